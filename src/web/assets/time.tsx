import { useEffect, useState } from 'preact/hooks';

const ticks = new Set<() => void>();
setInterval(() => {
  for (const t of ticks) t();
}, 1000);

/** Re-renders the component every second (relative times move on). */
export function useTick(): void {
  const [, set] = useState(0);
  useEffect(() => {
    const t = (): void => set((n) => n + 1);
    ticks.add(t);
    return () => void ticks.delete(t);
  }, []);
}

export function ago(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  const a = Math.abs(s);
  const text =
    a < 60
      ? `${a} s`
      : a < 3600
        ? `${Math.floor(a / 60)} min`
        : a < 86400
          ? `${Math.floor(a / 3600)} h ${Math.floor((a % 3600) / 60)} min`
          : `${Math.floor(a / 86400)} d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local time: HH:MM:SS today, else the date too. */
export function absolute(ms: number): string {
  const d = new Date(ms);
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return d.toDateString() === new Date().toDateString() ? t : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
}

/** A time shown relative ("12 s ago") and absolute (local, and ISO in its title). */
export function Time({ ms }: { ms: number | null | undefined }) {
  useTick();
  if (ms === null || ms === undefined || ms <= 0) return <span class="muted">never</span>;
  const iso = new Date(ms).toISOString();
  return (
    <time dateTime={iso} title={iso}>
      {ago(ms)} <span class="abs">{absolute(ms)}</span>
    </time>
  );
}
