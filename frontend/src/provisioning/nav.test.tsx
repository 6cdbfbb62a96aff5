import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Sidebar } from '../layout/Sidebar';
import { renderAt } from '../test/utils';

describe('the Provisioning entry of the sidebar', () => {
  it('is there for admins, operators and auditors, not for other users', () => {
    const { unmount } = renderAt(<Sidebar isAdmin />);
    expect(screen.getByTestId('nav-provisioning')).toHaveAttribute('href', '/provisioning');
    expect(screen.getByTestId('nav-provisioning')).toHaveTextContent('Provisioning');
    unmount();
    const operator = renderAt(<Sidebar isAdmin={false} isOperator />);
    expect(screen.getByTestId('nav-provisioning')).toBeInTheDocument();
    operator.unmount();
    renderAt(<Sidebar isAdmin={false} />);
    expect(screen.queryByTestId('nav-provisioning')).not.toBeInTheDocument();
  });
});
