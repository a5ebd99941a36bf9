// Byte arrays cross the bus whole (include/anchord/sdbus.hpp): what they
// carry arrives intact, in the wire type `ay` that any other D-Bus peer
// writes and reads, through a real dbus-daemon.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "anchord/sdbus.hpp"
#include "dbus_daemon.hpp"

namespace anchord {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr const char* kName = "io.github.anchord1.test.Bytes";
constexpr const char* kPath = "/io/github/anchord1/test";
constexpr const char* kInterface = "io.github.anchord1.test.Bytes";

// sdbus-c++'s own element-by-element template, which the overloads replace
// in this project: what every other sdbus-c++ peer still uses.
void append_per_byte(sdbus::Message& message, const Bytes& bytes) {
    sdbus::operator<< <std::uint8_t>(message, bytes);
}
Bytes read_per_byte(sdbus::Message& message) {
    Bytes bytes;
    sdbus::operator>><std::uint8_t>(message, bytes);
    return bytes;
}

// Echo (ay -> ay) answers what it read; Split (ay -> aay) cuts it in
// arrays of 1,000; Size (ay -> t) tells how much arrived; Misread (s -> t)
// reads its string argument as bytes, a handler's mistake.
class BytesServer {
  public:
    explicit BytesServer(const std::string& address)
        : conn_(sdbus::createSessionBusConnectionWithAddress(address)) {
        conn_->requestName(kName);
        object_ = sdbus::createObject(*conn_, kPath);
        serve("Echo", "ay", "ay", [](Bytes bytes) { return bytes; });
        serve("Split", "ay", "aay", [](Bytes bytes) {
            std::vector<Bytes> parts;
            for (std::size_t at = 0; at < bytes.size(); at += 1000)
                parts.emplace_back(bytes.begin() + at,
                                   bytes.begin() + std::min(bytes.size(), at + 1000));
            return parts;
        });
        const auto size = [](Bytes bytes) { return static_cast<std::uint64_t>(bytes.size()); };
        serve("Size", "ay", "t", size);
        serve("Misread", "s", "t", size);
        object_->finishRegistration();
        conn_->enterEventLoopAsync();
    }
    ~BytesServer() { conn_->leaveEventLoop(); }

  private:
    // A method that reads its first argument as bytes and answers what
    // `make` returns of them.
    template <typename Make>
    void serve(const char* method, const char* in, const char* out, Make make) {
        object_->registerMethod(kInterface, method, in, out, [make](sdbus::MethodCall call) {
            Bytes bytes;
            call >> bytes;
            auto reply = call.createReply();
            reply << make(std::move(bytes));
            reply.send();
        });
    }

    std::unique_ptr<sdbus::IConnection> conn_;
    std::unique_ptr<sdbus::IObject> object_;
};

class BusBytesTest : public ::testing::Test {
  protected:
    BusBytesTest()
        : bus_(std::make_unique<testing::PrivateBus>()),
          server_(std::make_unique<BytesServer>(bus_->address())),
          proxy_(sdbus::createProxy(sdbus::createSessionBusConnectionWithAddress(bus_->address()),
                                    kName, kPath)) {}

    Bytes echo(const Bytes& bytes) {
        Bytes out;
        proxy_->callMethod("Echo").onInterface(kInterface).withArguments(bytes).storeResultsTo(out);
        return out;
    }

    std::unique_ptr<testing::PrivateBus> bus_;
    std::unique_ptr<BytesServer> server_;
    std::unique_ptr<sdbus::IProxy> proxy_;
};

// Every byte value, at the size of a 1,000-certificate bundle.
Bytes sample(std::size_t size) {
    Bytes bytes(size);
    for (std::size_t i = 0; i < size; ++i)
        bytes[i] = static_cast<std::uint8_t>((i * 7 + i / 251) & 0xff);
    return bytes;
}

TEST_F(BusBytesTest, ALargeArrayArrivesIntactBothWays) {
    const Bytes bytes = sample(1'500'000);
    EXPECT_EQ(echo(bytes), bytes);
}

TEST_F(BusBytesTest, EmptyAndOneByteArraysArriveIntact) {
    EXPECT_EQ(echo(Bytes{}), Bytes{});
    EXPECT_EQ(echo(Bytes{0x00}), Bytes{0x00});
    EXPECT_EQ(echo(Bytes{0xff}), Bytes{0xff});
}

// A peer that writes `ay` one element at a time (any other sdbus-c++
// program) is read whole, and reads whole what anchord writes.
TEST_F(BusBytesTest, ArraysAreTheSameOnTheWireAsElementByElement) {
    const Bytes bytes = sample(70'001);

    auto call = proxy_->createMethodCall(kInterface, "Size");
    append_per_byte(call, bytes);
    std::uint64_t size = 0;
    proxy_->callMethod(call) >> size;
    EXPECT_EQ(size, bytes.size());

    auto echo_call = proxy_->createMethodCall(kInterface, "Echo");
    echo_call << bytes;
    auto reply = proxy_->callMethod(echo_call);
    std::string type, contents;
    reply.peekType(type, contents);
    EXPECT_EQ(type, "a");
    EXPECT_EQ(contents, "y");
    EXPECT_EQ(read_per_byte(reply), bytes);
}

// In an array of arrays each inner array is read whole and the reading
// stops at the end of the outer one.
TEST_F(BusBytesTest, AnArrayOfArraysArrivesAsItsParts) {
    const Bytes bytes = sample(2'500);
    std::vector<Bytes> parts;
    proxy_->callMethod("Split").onInterface(kInterface).withArguments(bytes).storeResultsTo(parts);
    ASSERT_EQ(parts.size(), 3u);
    EXPECT_EQ(parts[0], Bytes(bytes.begin(), bytes.begin() + 1000));
    EXPECT_EQ(parts[1], Bytes(bytes.begin() + 1000, bytes.begin() + 2000));
    EXPECT_EQ(parts[2], Bytes(bytes.begin() + 2000, bytes.end()));
}

// A message holding something else where a byte array is read is an
// error the caller gets back, not a crash of the reader.
TEST_F(BusBytesTest, AStringReadAsBytesIsAnErrorForTheCaller) {
    try {
        std::uint64_t size = 0;
        proxy_->callMethod("Misread")
            .onInterface(kInterface)
            .withArguments(std::string("not bytes"))
            .storeResultsTo(size);
        FAIL() << "a string was read as bytes";
    } catch (const sdbus::Error& e) {
        EXPECT_NE(e.getMessage().find("byte array"), std::string::npos) << e.getMessage();
    }
    EXPECT_EQ(echo(Bytes{1, 2, 3}), (Bytes{1, 2, 3})) << "the server no longer answers";
}

}  // namespace
}  // namespace anchord
