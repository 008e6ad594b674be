/* A small C "authentication library" in the style of seed 002's: requests are queued to
 * worker threads, and each completes through a callback + void* user data, on a worker
 * thread. When the library is done with a request it calls the user data's destroy notifier
 * (as GLib's GDestroyNotify), after the callback or instead of it.
 *
 * The bug of seed 002, on purpose: with `forget_one_in` = N > 0, a request that finds the
 * queue busy (another request waiting) is, one time in N, dropped without its callback (an
 * error path that frees the request and forgets to notify). Only the destroy notifier runs. */
#ifndef WEIR_EXAMPLE_AUTH_LIB_H
#define WEIR_EXAMPLE_AUTH_LIB_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct auth_lib auth_lib;

/* status: 0 = allowed, 1 = denied */
typedef void (*auth_done_fn)(void* user_data, int status);
typedef void (*auth_release_fn)(void* user_data);

/* Starts `workers` threads; each check takes about `latency_us` microseconds. NULL on error. */
auth_lib* auth_open(int workers, unsigned latency_us, unsigned forget_one_in);
/* Queues a check of `user` (copied). Calls done(user_data, status) once, then
 * release(user_data), both on a worker thread -- or, by the bug, only release. */
void auth_check(auth_lib* lib, const char* user, auth_done_fn done, auth_release_fn release,
                void* user_data);
/* Requests dropped without a callback so far. */
unsigned long auth_forgotten(const auth_lib* lib);
/* Finishes the queued checks, stops the workers, frees the library. */
void auth_close(auth_lib* lib);

#ifdef __cplusplus
}
#endif

#endif
