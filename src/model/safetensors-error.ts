// A safetensors file or shard index that cannot be read. Why its own class: a download can be truncated or
// a file mislabeled, and the user needs to know which file and what is wrong with it (re-download, pick
// another revision), which none of the engine's other errors say. It lives with the other typed errors in
// src/errors.ts so it keeps its class across the worker boundary.

export { SafetensorsError } from '../errors.ts';
