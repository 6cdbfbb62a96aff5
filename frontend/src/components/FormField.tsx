/**
 * A labelled form control with its server-side errors underneath. The errors
 * sit outside the <label> so they do not change the control's accessible name.
 */
import { cloneElement, useId, type ReactElement } from 'react';
import { FieldErrors } from './FieldErrors';

type ControlProps = {
  id?: string;
  'aria-invalid'?: boolean;
  'aria-describedby'?: string;
};

export function FormField({
  label,
  errors = [],
  children,
}: {
  label: string;
  errors?: string[];
  children: ReactElement<ControlProps>;
}) {
  const id = useId();
  const errorId = `${id}-errors`;
  const control = cloneElement(children, {
    id,
    'aria-invalid': errors.length > 0,
    'aria-describedby': errors.length > 0 ? errorId : undefined,
  });
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {control}
      <FieldErrors id={errorId} messages={errors} />
    </div>
  );
}
