#include <weir/sync/semaphore.hpp>
