/* See auth_lib.h. Plain C11 with pthreads. */
#include "auth_lib.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct request {
  struct request* next;
  char user[64];
  auth_done_fn done;
  auth_release_fn release;
  void* user_data;
  int busy; /* the queue was not empty when it arrived */
};

struct auth_lib {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct request *head, *tail;
  int stopping;
  int nworkers;
  pthread_t* workers;
  unsigned latency_us;
  unsigned forget_one_in;
  unsigned seed;
  atomic_ulong forgotten;
};

static void pause_us(unsigned us) {
  struct timespec ts = {us / 1000000u, (long)(us % 1000000u) * 1000L};
  nanosleep(&ts, NULL);
}

/* The error path with the bug: frees the request, notifies only the destroy notifier. */
__attribute__((noinline)) static void drop_request(auth_lib* lib, struct request* r) {
  atomic_fetch_add(&lib->forgotten, 1);
  r->release(r->user_data);
  free(r);
}

static void finish_request(struct request* r) {
  const int denied = strncmp(r->user, "mallory", 7) == 0;
  r->done(r->user_data, denied);
  r->release(r->user_data);
  free(r);
}

static void* worker(void* arg) {
  auth_lib* lib = arg;
  for (;;) {
    pthread_mutex_lock(&lib->mu);
    while (!lib->head && !lib->stopping) pthread_cond_wait(&lib->cv, &lib->mu);
    struct request* r = lib->head;
    if (!r) {
      pthread_mutex_unlock(&lib->mu);
      return NULL;
    }
    lib->head = r->next;
    if (!lib->head) lib->tail = NULL;
    int forget = 0;
    if (lib->forget_one_in && r->busy) forget = rand_r(&lib->seed) % lib->forget_one_in == 0;
    pthread_mutex_unlock(&lib->mu);

    pause_us(lib->latency_us); /* the "network call" to the auth backend */
    if (forget)
      drop_request(lib, r);
    else
      finish_request(r);
  }
}

auth_lib* auth_open(int workers, unsigned latency_us, unsigned forget_one_in) {
  auth_lib* lib = calloc(1, sizeof *lib);
  if (!lib) return NULL;
  pthread_mutex_init(&lib->mu, NULL);
  pthread_cond_init(&lib->cv, NULL);
  lib->latency_us = latency_us;
  lib->forget_one_in = forget_one_in;
  lib->seed = 2;
  atomic_init(&lib->forgotten, 0);
  lib->workers = calloc((size_t)workers, sizeof(pthread_t));
  for (int i = 0; i < workers; ++i)
    if (pthread_create(&lib->workers[i], NULL, worker, lib) == 0) lib->nworkers++;
  if (lib->nworkers == 0) {
    free(lib->workers);
    free(lib);
    return NULL;
  }
  return lib;
}

void auth_check(auth_lib* lib, const char* user, auth_done_fn done, auth_release_fn release,
                void* user_data) {
  struct request* r = calloc(1, sizeof *r);
  if (!r) {
    done(user_data, 1);
    release(user_data);
    return;
  }
  strncpy(r->user, user, sizeof r->user - 1);
  r->done = done;
  r->release = release;
  r->user_data = user_data;
  pthread_mutex_lock(&lib->mu);
  r->busy = lib->head != NULL;
  if (lib->tail)
    lib->tail->next = r;
  else
    lib->head = r;
  lib->tail = r;
  pthread_cond_signal(&lib->cv);
  pthread_mutex_unlock(&lib->mu);
}

unsigned long auth_forgotten(const auth_lib* lib) {
  return atomic_load(&((auth_lib*)lib)->forgotten);
}

void auth_close(auth_lib* lib) {
  pthread_mutex_lock(&lib->mu);
  lib->stopping = 1;
  pthread_cond_broadcast(&lib->cv);
  pthread_mutex_unlock(&lib->mu);
  for (int i = 0; i < lib->nworkers; ++i) pthread_join(lib->workers[i], NULL);
  free(lib->workers);
  pthread_mutex_destroy(&lib->mu);
  pthread_cond_destroy(&lib->cv);
  free(lib);
}
