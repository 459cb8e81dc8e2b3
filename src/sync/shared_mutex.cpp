#include <keel/sync/shared_mutex.hpp>

namespace keel::sync::detail {

shared_hold_table& this_thread_shared_holds() noexcept {
    // Zero-initialised, trivially destructible: no guard, no exit-time destructor.
    static thread_local shared_hold_table table{};
    return table;
}

}  // namespace keel::sync::detail
