#include <weir/sync/wait_group.hpp>
