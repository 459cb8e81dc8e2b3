#include <keel/rpc/error.hpp>

#include <string>

namespace keel::rpc {
namespace {

// boost::system::error_category has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    // A fixed id keeps the category unique across shared-library copies.
    constexpr category() noexcept : error_category(0x6b65656c72706331ULL) {}
    const char* name() const noexcept override { return "keel.rpc"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::bad_magic: return "wrong magic number (not a keel rpc peer or segment)";
        case errc::version_mismatch: return "keel rpc protocol version mismatch";
        case errc::fingerprint_mismatch: return "layout fingerprint mismatch (peer built with another layout)";
        case errc::schema_mismatch: return "service schema hash mismatch";
        case errc::unknown_service: return "the server does not offer this service";
        case errc::bad_message: return "malformed handshake message";
        case errc::bad_header: return "malformed segment header";
        case errc::area_out_of_bounds: return "segment area out of bounds";
        case errc::size_mismatch: return "segment size does not match its header";
        case errc::missing_seals: return "segment memfd lacks the required seals";
        case errc::not_a_memfd: return "the fd is not a sealable memfd";
        case errc::segment_too_large: return "segment larger than accepted";
        case errc::rejected: return "the server refused the connection";
        case errc::peer_closed: return "the peer closed the connection";
        case errc::null_pointer: return "null shm_ptr";
        case errc::out_of_bounds: return "shm_ptr outside the heap area";
        case errc::misaligned: return "shm_ptr misaligned for its type";
        case errc::overloaded: return "the request ring is full (call rejected)";
        case errc::peer_dead: return "the peer died or dropped the connection";
        case errc::handler_failed: return "the server's handler failed";
        case errc::unknown_method: return "the server has no handler for this method";
        case errc::channel_corrupt: return "corrupt channel slot (sequence, length, id or status)";
        case errc::bad_arguments: return "request arguments do not match the method";
        case errc::payload_too_large: return "payload larger than this side accepts";
        case errc::buffer_not_sealed: return "sealed buffer lacks a required seal";
        case errc::seal_busy: return "cannot seal the buffer: a writable mapping remains";
        case errc::sandbox_unavailable: return "no MPK sandbox available here";
        case errc::sandbox_fault: return "the sandboxed handler made a stray memory access (or another CPU fault)";
        case errc::out_of_memory: return "the shared heap (this side's arena) is out of memory";
        case errc::not_allocated: return "not a live block of this shared heap";
        case errc::give_back_full: return "the give-back ring is full (the server has not drained it yet)";
        case errc::transport_failed: return "the network transport failed";
        case errc::safety_refused: return "the call's safety mode is weaker than the server requires";
        }
        return "unknown keel.rpc error " + std::to_string(ev);
    }
};
#pragma GCC diagnostic pop

thread_local std::string last_detail;

}  // namespace

const boost::system::error_category& rpc_category() noexcept {
    static const category instance;
    return instance;
}

std::string error_detail() { return last_detail; }

namespace detail {
error_code fail(error_code code, std::string text) {
    last_detail = std::move(text);
    return code;
}
}  // namespace detail

}  // namespace keel::rpc
