// Debounced saving: edits come in bursts (every keystroke of a form), the store is written once the burst
// settles, and `flush` writes at once (before switching notebooks or when the page hides). A failed save
// is reported, not swallowed.

export class Autosaver {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly save: () => Promise<void>,
    private readonly delayMs: number,
    private readonly onError: (e: unknown) => void,
    private readonly onSaved: () => void = () => {},
  ) {}

  get pending(): boolean {
    return this.timer !== null;
  }

  schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), this.delayMs);
  }

  /** Writes now if a save is pending; resolves when every save so far has finished. */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
      this.saving = this.saving.then(() =>
        this.save().then(
          () => this.onSaved(),
          (e: unknown) => this.onError(e),
        ),
      );
    }
    return this.saving;
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
