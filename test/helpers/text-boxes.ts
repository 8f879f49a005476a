/** Text outlines of a rendered figure, and the layout faults they show (overlap, text outside the figure). */

export interface TextBox {
  text: string;
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Text boxes include the font's ascent and descent; neighbours within half a pixel are not counted as touching. */
export const TOLERANCE = 0.5;

export function layoutProblems(width: number, height: number, boxes: TextBox[]): string[] {
  const problems: string[] = [];
  for (const b of boxes) {
    if (b.left < -TOLERANCE || b.top < -TOLERANCE || b.right > width + TOLERANCE || b.bottom > height + TOLERANCE) {
      problems.push(
        `"${b.text}" lies outside the ${width.toFixed(0)} × ${height.toFixed(0)} figure (${b.left.toFixed(1)}, ${b.top.toFixed(1)})–(${b.right.toFixed(1)}, ${b.bottom.toFixed(1)})`,
      );
    }
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > TOLERANCE && h > TOLERANCE)
        problems.push(`"${a.text}" overlaps "${b.text}" by ${w.toFixed(1)} × ${h.toFixed(1)} px`);
    }
  }
  return problems;
}
