// What the push streams of subscriptions (feedUpdated's, trainingRunUpdated's) share: the async
// iterator protocol around a next() that may wait for news. A client going away (return(), or
// throw()) closes the stream at once, even while next() waits, so that nothing it holds (a live
// feed, a bus subscription, a timer) outlives it.

export const DONE = { done: true as const, value: undefined };

export function pushStream<T>(next: () => Promise<IteratorResult<T>>, close: () => void): AsyncIterableIterator<T> {
  return {
    next,
    async return() {
      close();
      return DONE;
    },
    async throw(error: unknown) {
      close();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
