export function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        Nothing lives at this address. Go to the <a href="/">overview</a>.
      </p>
    </section>
  );
}
