/**
 * The value, which a test expects to be there (an array element, a regex group, a map
 * entry): a missing one fails the test here, saying so, rather than as a TypeError later.
 */
export function defined<T>(value: T | undefined, what = 'value'): T {
  if (value === undefined) throw new Error(`expected a ${what}, got undefined`);
  return value;
}
