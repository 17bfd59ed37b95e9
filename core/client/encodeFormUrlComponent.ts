/**
 * One value in `application/x-www-form-urlencoded` form (WHATWG URL §5.2), the way the
 * runtime writes the key of `GET /kms/data/<key>` (RUNTIME.md §1): `/` becomes `%2F` and a
 * space becomes `+`, unlike `encodeURIComponent`, which writes `%20`.
 */
export function encodeFormUrlComponent(value: string): string {
  // The serializer of URLSearchParams is exactly the form encoding; drop the `k=` it adds.
  return new URLSearchParams({ k: value }).toString().slice(2)
}
