/** Limits shared by the inputs (socket, TCP, HTTP, folder). */

/** Largest input accepted on one connection, request or file. */
export const MAX_INPUT_BYTES = 256 * 1024 * 1024;
/** A stream client that sent a complete document but never half-closed (plain `nc -U`) is answered after this. */
export const IDLE_MS = 500;
/** How long the rest of an input over the cap is read (and dropped) after the answer, at most. */
export const LINGER_MS = 10_000;
