/** What the form answers: an HTTP status, the page, and the outcome (for tests and logs). */
export interface FormAnswer {
  outcome: 'form' | 'unavailable' | 'stale' | 'invalid' | 'refused' | 'unreachable' | 'failed' | 'started';
  status: number;
  html: string;
}
