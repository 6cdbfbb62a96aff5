/** Previous/Next buttons for DRF cursor pagination. */
import { useTranslation } from 'react-i18next';

/** The `cursor` query parameter of a `next`/`previous` URL from the API. */
export function cursorFromUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    return new URL(url, window.location.origin).searchParams.get('cursor');
  } catch {
    return null;
  }
}

export function Pager({
  next,
  previous,
  onPage,
}: {
  next: string | null | undefined;
  previous: string | null | undefined;
  onPage: (cursor: string | null) => void;
}) {
  const { t } = useTranslation();
  if (!next && !previous) return null;
  return (
    <nav className="pager" aria-label="pagination">
      <button
        type="button"
        className="btn"
        disabled={!previous}
        onClick={() => onPage(cursorFromUrl(previous))}
        data-testid="page-previous"
      >
        ← {t('common.previous')}
      </button>
      <button
        type="button"
        className="btn"
        disabled={!next}
        onClick={() => onPage(cursorFromUrl(next))}
        data-testid="page-next"
      >
        {t('common.next')} →
      </button>
    </nav>
  );
}
