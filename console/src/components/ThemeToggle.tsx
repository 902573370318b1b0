import { useState } from 'preact/hooks';

type Theme = 'system' | 'light' | 'dark';

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(((localStorage.getItem('distorch.theme') as Theme) ?? 'system'));
  const choose = (next: Theme) => {
    setTheme(next);
    if (next === 'system') {
      localStorage.removeItem('distorch.theme');
      delete document.documentElement.dataset.theme;
    } else {
      localStorage.setItem('distorch.theme', next);
      document.documentElement.dataset.theme = next;
    }
  };
  return (
    <label class="theme">
      <span class="visually-hidden">Theme</span>
      <select value={theme} onChange={(e) => choose((e.target as HTMLSelectElement).value as Theme)}>
        <option value="system">System</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}
