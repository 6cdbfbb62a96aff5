import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { changeLanguage } from '../i18n';
import { renderAt } from '../test/utils';
import { ThemeSwitch } from './ThemeSwitch';

describe('ThemeSwitch', () => {
  it('offers system, light and dark in Korean and remembers the choice', async () => {
    await changeLanguage('ko');
    const user = userEvent.setup();
    const view = renderAt(<ThemeSwitch />);
    const select = screen.getByRole('combobox', { name: '화면 테마' });
    expect(select).toHaveValue('system');
    expect(screen.getByRole('option', { name: '어두운 테마' })).toBeInTheDocument();
    await user.selectOptions(select, 'dark');
    expect(document.documentElement.getAttribute('data-theme')).toBe('dark');
    expect(window.localStorage.getItem('portal.theme')).toBe('dark');
    await user.selectOptions(select, 'system');
    expect(document.documentElement.hasAttribute('data-theme')).toBe(false);
    view.unmount();
    await changeLanguage('en');
  });
});
