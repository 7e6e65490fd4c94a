// The plain data a LineChart draws: series aligned on one x axis (null where a series has no value) and
// vertical marks.

export interface ChartSeries {
  label: string;
  /** A CSS colour or a var(--name) of the page's palette. */
  color: string;
  values: (number | null)[];
  /** Draw points only (sparse series such as evaluations get both). */
  points?: boolean;
  dash?: number[];
}

export interface ChartMark {
  x: number;
  label: string;
  color: string;
}
