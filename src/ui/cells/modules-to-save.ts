// The train form's modules_to_save control, as plain functions: a checkbox for the final norm ('model.norm')
// and a text field for other norm layers. Why a separate file: the rule "an empty list leaves no
// modulesToSave key at all" must hold, so a config saved or shared before the control existed and one
// where the user switched it off again compare, hash and serialize the same.

import type { LoraConfig } from '../../model/lora.ts';

/** The name that selects the final norm and no other module (PEFT matches by path suffix: 'norm' is every norm). */
export const FINAL_NORM = 'model.norm';

/** The saved-module names typed into the form: split on commas and spaces, blanks and repeats dropped. */
export function parseModuleNames(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}

/** Whether the config trains the final norm whole. */
export function savesFinalNorm(lora: Pick<LoraConfig, 'modulesToSave'>): boolean {
  return (lora.modulesToSave ?? []).includes(FINAL_NORM);
}

/** The saved modules other than the final norm, as the text field shows them. */
export function otherSavedText(lora: Pick<LoraConfig, 'modulesToSave'>): string {
  return (lora.modulesToSave ?? []).filter((n) => n !== FINAL_NORM).join(', ');
}

/**
 * Writes the form's state into `lora` in place (the cell's reactive config): the final norm first when
 * checked or typed among the others, then the other names; an empty result deletes the key rather than
 * storing [].
 */
export function writeModulesToSave(lora: LoraConfig, finalNorm: boolean, others: readonly string[]): void {
  const rest = others.filter((n) => n !== FINAL_NORM);
  const names = [...new Set([...(finalNorm || rest.length < others.length ? [FINAL_NORM] : []), ...rest])];
  if (names.length === 0) delete lora.modulesToSave;
  else lora.modulesToSave = names;
}
