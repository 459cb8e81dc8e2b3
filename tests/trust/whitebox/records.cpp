// Record layout and ring mechanics: what keeps a request to one cache line or less.
#include <keel/trust.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <vector>

namespace kt = keel::trust;
namespace kd = keel::trust::detail;

namespace {
struct counter {
    long value = 0;
};
auto increment = [](counter& c) { ++c.value; };
auto nothing = [] {};
auto read_value = [](counter& c) { return c.value; };
auto take_long = [](long) {};
}  // namespace

TEST_CASE("small requests stay within one cache line", "[trust][whitebox]") {
    // A void apply_then with captureless closures: header, object, exception slot.
    STATIC_REQUIRE(kd::record_size<kd::then_record<counter, decltype(increment), decltype(nothing)>>() == 32);
    // With an 8-byte result: the result and its state.
    STATIC_REQUIRE(kd::record_size<kd::then_record<counter, decltype(read_value), decltype(take_long)>>() <= 48);
    // A synchronous apply of a small closure is copied in, still one line.
    STATIC_REQUIRE(kd::record_size<kd::sync_record<counter, decltype(read_value)&>>() <= 64);
}

TEST_CASE("large closures are boxed, small ones stored in place", "[trust][whitebox]") {
    STATIC_REQUIRE(kd::stored_inline<std::array<char, 192>>);
    STATIC_REQUIRE_FALSE(kd::stored_inline<std::array<char, 193>>);
    using big = std::array<char, 4000>;
    // A 4000-byte closure still makes a record well inside a quarter of a 4 KiB ring.
    auto f = [b = big{}](counter& c) { c.value += b[0]; };
    STATIC_REQUIRE(kd::record_size<kd::then_record<counter, decltype(f), decltype(nothing)>>() <= 64);
}

TEST_CASE("records that do not fit before the ring's end leave padding and wrap", "[trust][whitebox]") {
    kt::runtime rt(kt::runtime_options{.channel_bytes = 4096, .publish_batch = 1});
    auto c = rt.entrust<counter>();
    // 48-byte records do not divide 4096: every wrap needs a padding record.
    std::array<char, 20> payload{};
    long expected = 0;
    for (int i = 1; i <= 2000; ++i) {
        payload[0] = static_cast<char>(i % 7);
        expected += i % 7;
        c.apply_then([payload](counter& x) { x.value += payload[0]; }, [] {});
    }
    kt::drain();
    CHECK(c.apply([](counter& x) { return x.value; }) == expected);
}

TEST_CASE("pending requests hold one shared reference per object - finished ones hold none",
          "[trust][whitebox]") {
    kt::runtime rt;
    auto c = rt.entrust<counter>();
    REQUIRE(c.use_count() == 1);
    for (int i = 0; i < 100; ++i) c.apply_then(increment, nothing);
    // The channel holds one reference for all 100, not one each.
    CHECK(c.use_count() == 2);
    kt::drain();
    CHECK(c.use_count() == 1);

    // Past the channel's table (3 objects), each record holds its own reference.
    std::vector<kt::trust<counter>> many;
    for (int i = 0; i < 5; ++i) many.push_back(rt.entrust<counter>());
    for (auto& m : many) m.apply_then(increment, nothing);
    long held = 0;
    for (auto& m : many) held += static_cast<long>(m.use_count()) - 1;
    CHECK(held == 5);
    kt::drain();
    for (auto& m : many) CHECK(m.use_count() == 1);
}
