/** A text filter of a list's toolbar that reports its value after the user pauses typing (350 ms). */
import { useEffect, useRef, useState } from 'react';

export function SearchInput({
  value,
  onCommit,
  label,
  name,
  placeholder,
  maxLength = 100,
  type = 'search',
}: {
  value: string;
  onCommit: (value: string) => void;
  label: string;
  name: string;
  placeholder?: string;
  maxLength?: number;
  /** 'search' (a search box with a clear button) or 'text' (a plain filter field). */
  type?: 'search' | 'text';
}) {
  const [draft, setDraft] = useState(value);
  const commit = useRef(onCommit);
  useEffect(() => {
    commit.current = onCommit;
  });
  useEffect(() => setDraft(value), [value]);
  useEffect(() => {
    if (draft === value) return undefined;
    const timer = setTimeout(() => commit.current(draft.trim()), 350);
    return () => clearTimeout(timer);
  }, [draft, value]);
  return (
    <label className="field">
      <span>{label}</span>
      <input name={name} type={type} value={draft} maxLength={maxLength} placeholder={placeholder} onChange={(e) => setDraft(e.target.value)} />
    </label>
  );
}
