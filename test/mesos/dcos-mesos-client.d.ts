// Types for @dcos/mesos-client 1.0.0, which ships none: the two functions the e2e test calls.
// Both POST `body` as JSON to `url` (the operator API) and return an rxjs Observable: `request`
// of the response text, `stream` of the RecordIO stream's records, each a JSON text.
declare module "@dcos/mesos-client" {
  interface Subscription {
    unsubscribe(): void;
  }
  interface Observable<T> {
    subscribe(next: (value: T) => void, error?: (err: unknown) => void, complete?: () => void): Subscription;
  }
  const client: {
    request(body: object, url?: string): Observable<string>;
    stream(body: object, url?: string): Observable<string>;
  };
  export default client;
}
