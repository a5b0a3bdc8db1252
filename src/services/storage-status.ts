// Whether an error says the database is out of reach (a restart, a lost connection): the
// adapters answer such errors UNAVAILABLE and retryable instead of INTERNAL. The test is the
// repositories' (they know the driver's errors); the adapters take it from here.
export { isDatabaseUnavailable, type DatabaseUnavailableError } from '../repositories/storage-errors.js';
