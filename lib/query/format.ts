// Numbers in the query stage's log lines.

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatUsd(x: number): string {
  return `USD ${x < 1 ? x.toFixed(4) : x.toFixed(2)}`;
}
