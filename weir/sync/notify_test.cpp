#include <weir/sync/notify.hpp>
