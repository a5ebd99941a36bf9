// Hostile callers: every kind of input a caller may send to hurt anchord
// gets a clean D-Bus error, the exact error name asserted, and anchord keeps
// serving afterwards (the same process answers reads and runs a Verify on a
// worker). Input the bus itself never delivers (a string that is not UTF-8,
// a message over the bus's size limit) is sent anyway, by hand on the wire,
// to show what the sender gets.
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <iostream>
#include <map>

#include "anchord_harness.hpp"

namespace anchord::testing {
namespace {

using Options = std::map<std::string, sdbus::Variant>;

const std::string kInvalidArgument = dbus_error_name(ErrorCode::InvalidArgument);
const std::string kInvalidCertificate = dbus_error_name(ErrorCode::InvalidCertificate);
const std::string kAccessDenied = dbus_error_name(ErrorCode::AccessDenied);
constexpr const char* kInvalidArgs = "org.freedesktop.DBus.Error.InvalidArgs";

class HostileTest : public AnchordTest {
  protected:
    void SetUp() override {
        AnchordTest::SetUp();
        if (HasFatalFailure()) return;
        ASSERT_TRUE(start_daemon());
        version_ = manager_property<std::string>("Version");
        ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);
    }

    // The same anchord process still answers: a property on the bus
    // thread, a Verify on a worker.
    ::testing::AssertionResult still_serving() {
        int status = 0;
        if (pid_ <= 0 || ::waitpid(pid_, &status, WNOHANG) != 0)
            return ::testing::AssertionFailure() << "anchord is gone";
        try {
            if (manager_property<std::string>("Version") != version_)
                return ::testing::AssertionFailure() << "Version changed";
            auto results = verify(pki_.chain.leaf.der, "ima");
            if (results.size() != 1 || !accepted_of(results[0]))
                return ::testing::AssertionFailure() << "Verify of a good leaf failed";
        } catch (const sdbus::Error& e) {
            return ::testing::AssertionFailure() << e.getName() << ": " << e.getMessage();
        }
        return ::testing::AssertionSuccess();
    }

    // The error a Manager method call fails with ("" when it succeeds).
    template <typename... Args>
    std::string error_of(const std::string& method, const Args&... args) {
        return error_name_of([&] {
            auto call = manager_->createMethodCall(kManagerInterface, method);
            ((void)(call << args), ...);
            manager_->callMethod(call);
        });
    }

    std::string version_;
};

// --- oversized arrays and strings -------------------------------------------------

TEST_F(HostileTest, OversizedArraysAndStringsAreRefused) {
    const Bytes huge(16 * 1024 * 1024, 'A');
    EXPECT_EQ(error_of("Verify", huge, std::string("ima")), kInvalidArgument);
    EXPECT_EQ(error_of("Enroll", huge, std::string("ima"), Options{}), kInvalidArgument);
    // One byte over the limit is refused, the limit itself is read (and is
    // no certificate).
    EXPECT_EQ(error_of("Verify", Bytes(ReadLimits{}.max_bytes + 1, 'A'), std::string("ima")),
              kInvalidArgument);
    EXPECT_EQ(error_of("Enroll", Bytes(ReadLimits{}.max_bytes, 'A'), std::string("ima"), Options{}),
              kInvalidCertificate);

    // 100,000 options.
    Options many;
    for (int i = 0; i < 100000; ++i) many.emplace("o" + std::to_string(i), sdbus::Variant(true));
    EXPECT_EQ(error_of("Enroll", pki_.chain.leaf.der, std::string("ima"), many), kInvalidArgument);

    // Strings of 1 MiB where a name is expected.
    const std::string long_name(1024 * 1024, 'i');
    EXPECT_EQ(error_of("Verify", pki_.chain.leaf.der, long_name), kInvalidArgument);
    EXPECT_EQ(error_of("Enroll", pki_.chain.leaf.der, long_name, Options{}), kInvalidArgument);
    EXPECT_EQ(error_of("Seal", long_name), kInvalidArgument);
    EXPECT_EQ(error_of("Remove", "sha256:" + long_name, std::string("ima")), kInvalidArgument);
    EXPECT_EQ(error_of("Remove", fp(pki_.chain.leaf), long_name), kInvalidArgument);
    EXPECT_EQ(error_of("Enroll", pki_.chain.leaf.der, std::string("ima"),
                       Options{{long_name, sdbus::Variant(true)}}),
              kInvalidArgument);
    EXPECT_TRUE(kernel_keys("ima").empty());
    EXPECT_FALSE(keyring_property<bool>("ima", "Sealed"));
    EXPECT_TRUE(still_serving());
}

// --- bundles of too many certificates ------------------------------------------------

TEST_F(HostileTest, ABundleOfTenThousandCertificatesIsRefused) {
    // Ten thousand real certificates: over the byte limit long before the count.
    Bytes bundle;
    const auto pem = pki_.chain.leaf.pem_bytes();
    for (int i = 0; i < 10000; ++i) bundle.insert(bundle.end(), pem.begin(), pem.end());
    EXPECT_EQ(error_of("Verify", bundle, std::string("ima")), kInvalidArgument);
    EXPECT_EQ(error_of("Enroll", bundle, std::string("ima"), Options{}), kInvalidArgument);

    // Ten thousand PEM blocks within the byte limit: refused by their count.
    const std::string empty_block = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
    std::string blocks;
    for (int i = 0; i < 10000; ++i) blocks += empty_block;
    ASSERT_LE(blocks.size(), ReadLimits{}.max_bytes);
    const Bytes many(blocks.begin(), blocks.end());
    EXPECT_EQ(error_of("Verify", many, std::string("ima")), kInvalidArgument);
    EXPECT_EQ(
        error_of("Enroll", many, std::string("ima"), Options{{"partial", sdbus::Variant(true)}}),
        kInvalidArgument);

    // One over the count limit, with the good leaf first: nothing is linked.
    Bytes just_over(pem.begin(), pem.end());
    for (std::size_t i = 0; i < ReadLimits{}.max_certificates; ++i)
        just_over.insert(just_over.end(), empty_block.begin(), empty_block.end());
    EXPECT_EQ(error_of("Enroll", just_over, std::string("ima"),
                       Options{{"partial", sdbus::Variant(true)}}),
              kInvalidArgument);
    EXPECT_TRUE(kernel_keys("ima").empty());
    EXPECT_TRUE(still_serving());
}

// --- names that look like paths --------------------------------------------------------

TEST_F(HostileTest, PathLikeKeyringNamesAreRefused) {
    const auto keyrings_before = kernel_keys("secondary");
    for (std::string name : {"../ima", "/etc/shadow", "ima/../evm", "./ima", "ima/", "/ima", "..",
                             ".", "", "ima ", "IMA", "ima\n", "%2e%2e/ima", "\\ima"}) {
        SCOPED_TRACE("keyring name '" + name + "'");
        EXPECT_EQ(error_of("Verify", pki_.chain.leaf.der, name), kInvalidArgument);
        EXPECT_EQ(error_of("Enroll", pki_.chain.leaf.der, name, Options{}), kInvalidArgument);
        EXPECT_EQ(error_of("Remove", fp(pki_.chain.leaf), name), kInvalidArgument);
        EXPECT_EQ(error_of("Seal", name), kInvalidArgument);
    }
    // A fingerprint that is a path is no fingerprint either.
    EXPECT_EQ(error_of("Remove", std::string("../../etc/shadow"), std::string("ima")),
              kInvalidArgument);
    // Nor is an object path under the keyring objects' root a keyring
    // (sd-bus itself refuses "..", "." and "%" in a path).
    auto proxy =
        sdbus::createProxy(*connection_, kBusName, std::string(kKeyringPathPrefix) + "etc_shadow");
    EXPECT_EQ(error_name_of([&] { proxy->getProperty("Keys").onInterface(kKeyringInterface); }),
              "org.freedesktop.DBus.Error.UnknownObject");
    EXPECT_TRUE(kernel_keys("ima").empty());
    EXPECT_EQ(kernel_keys("secondary"), keyrings_before);
    for (auto k : kAllLogicalKeyrings) {
        const std::string name(to_string(k));
        if (keyring_property<bool>(name, "Present")) {
            EXPECT_FALSE(keyring_property<bool>(name, "Sealed")) << name;
        }
    }
    EXPECT_TRUE(still_serving());
}

// --- options -------------------------------------------------------------------------

TEST_F(HostileTest, UnknownOptionKeysAndWrongOptionTypesAreRefused) {
    const auto& leaf = pki_.chain.leaf.der;
    for (const auto& options : std::vector<Options>{
             {{"force", sdbus::Variant(true)}},
             {{"Partial", sdbus::Variant(true)}},
             {{"", sdbus::Variant(true)}},
             {{"partial ", sdbus::Variant(true)}},
             {{"partial", sdbus::Variant(true)}, {"partial2", sdbus::Variant(false)}},
             {{"partial", sdbus::Variant(std::string("yes"))}},
             {{"partial", sdbus::Variant(int32_t{1})}},
             {{"partial", sdbus::Variant(std::vector<bool>{true})}},
             {{"partial", sdbus::Variant(Options{{"partial", sdbus::Variant(true)}})}},
             {{"brief", sdbus::Variant(std::string("yes"))}},
             {{"Brief", sdbus::Variant(true)}},
             {{"brief", sdbus::Variant(true)}, {"force", sdbus::Variant(true)}},
         }) {
        EXPECT_EQ(error_of("Enroll", leaf, std::string("ima"), options), kInvalidArgument)
            << options.begin()->first;
    }
    EXPECT_TRUE(kernel_keys("ima").empty());
    // The known options with their type are taken.
    EXPECT_EQ(
        error_of("Enroll", leaf, std::string("ima"),
                 Options{{"partial", sdbus::Variant(false)}, {"brief", sdbus::Variant(true)}}),
        "");
    EXPECT_EQ(fingerprints("ima"), std::set<std::string>{fp(pki_.chain.leaf)});
    EXPECT_TRUE(still_serving());
}

// --- wrong argument types ----------------------------------------------------------------

// sd-bus compares the call's signature with the method's before any
// handler runs, and answers InvalidArgs naming both.
TEST_F(HostileTest, WrongArgumentTypesGetInvalidArgs) {
    const auto& leaf = pki_.chain.leaf.der;
    const std::string ima = "ima";
    EXPECT_EQ(error_of("Verify", ima, ima), kInvalidArgs);                         // s s
    EXPECT_EQ(error_of("Verify", leaf), kInvalidArgs);                             // ay
    EXPECT_EQ(error_of("Verify", leaf, ima, ima), kInvalidArgs);                   // ay s s
    EXPECT_EQ(error_of("Verify", std::vector<int32_t>{1, 2}, ima), kInvalidArgs);  // ai s
    EXPECT_EQ(error_of("Enroll", leaf, ima), kInvalidArgs);                        // no options
    EXPECT_EQ(error_of("Enroll", leaf, ima, std::map<std::string, std::string>{{"partial", "1"}}),
              kInvalidArgs);                                                   // a{ss}
    EXPECT_EQ(error_of("Enroll", leaf, int32_t{3}, Options{}), kInvalidArgs);  // ay i a{sv}
    EXPECT_EQ(error_of("Remove", int32_t{1}, ima), kInvalidArgs);
    EXPECT_EQ(error_of("Remove", fp(pki_.chain.leaf)), kInvalidArgs);
    EXPECT_EQ(error_of("Seal", std::vector<std::string>{ima}), kInvalidArgs);
    EXPECT_EQ(error_of("Seal", sdbus::ObjectPath("/ima")), kInvalidArgs);
    EXPECT_EQ(error_of("Seal", sdbus::Variant(ima)), kInvalidArgs);
    EXPECT_EQ(error_of("Reconcile", ima), kInvalidArgs);
    EXPECT_EQ(error_of("ReloadPolicy", true), kInvalidArgs);
    EXPECT_EQ(error_of("GetPolicy", uint32_t{7}), kInvalidArgs);
    // Properties: read-only, and Get with the wrong types.
    EXPECT_EQ(error_name_of([&] {
                  manager_->setProperty("Version")
                      .onInterface(kManagerInterface)
                      .toValue(std::string("9"));
              }),
              "org.freedesktop.DBus.Error.PropertyReadOnly");
    EXPECT_EQ(error_name_of([&] {
                  auto call = manager_->createMethodCall("org.freedesktop.DBus.Properties", "Get");
                  call << int32_t{1} << std::string("Version");
                  manager_->callMethod(call);
              }),
              kInvalidArgs);
    EXPECT_EQ(error_of("NoSuchMethod"), "org.freedesktop.DBus.Error.UnknownMethod");
    EXPECT_TRUE(kernel_keys("ima").empty());
    EXPECT_FALSE(keyring_property<bool>("ima", "Sealed"));
    EXPECT_TRUE(still_serving());
}

// --- a certificate nested a million bytes deep -----------------------------------------------

// A DER SEQUENCE holding a SEQUENCE holding ... down to an empty one, as
// deep as `max_size` bytes allow (about a quarter of a million levels for
// 1 MiB): valid DER, and a stack overflow for any reader that recurses.
Bytes nested_sequence(std::size_t max_size) {
    auto header_size = [](std::size_t content) -> std::size_t {
        if (content < 0x80) return 2;
        if (content <= 0xff) return 3;
        if (content <= 0xffff) return 4;
        return 5;
    };
    std::vector<std::size_t> sizes{2};  // sizes[i]: the whole encoding i levels above "30 00"
    while (sizes.back() + header_size(sizes.back()) <= max_size)
        sizes.push_back(sizes.back() + header_size(sizes.back()));
    Bytes out;
    out.reserve(sizes.back());
    for (std::size_t level = sizes.size() - 1; level > 0; --level) {
        const std::size_t content = sizes[level - 1];
        out.push_back(0x30);
        const std::size_t n = header_size(content) - 2;
        if (n == 0) {
            out.push_back(static_cast<std::uint8_t>(content));
        } else {
            out.push_back(static_cast<std::uint8_t>(0x80 | n));
            for (std::size_t b = n; b > 0; --b)
                out.push_back(static_cast<std::uint8_t>(content >> (8 * (b - 1))));
        }
    }
    out.push_back(0x30);
    out.push_back(0x00);
    return out;
}

TEST_F(HostileTest, ACertificateOfAMebibyteOfNestingIsRefusedCleanly) {
    const Bytes deep = nested_sequence(ReadLimits{}.max_bytes);
    ASSERT_LE(deep.size(), ReadLimits{}.max_bytes);
    ASSERT_GT(deep.size(), ReadLimits{}.max_bytes - 8);
    // The outer length covers the rest exactly (5-byte header: 30 83 LL LL LL).
    ASSERT_EQ(deep[1], 0x83);
    ASSERT_EQ((std::size_t{deep[2]} << 16 | std::size_t{deep[3]} << 8 | deep[4]), deep.size() - 5);

    EXPECT_EQ(error_of("Enroll", deep, std::string("ima"), Options{}), kInvalidCertificate);
    auto results = verify(deep, "ima");
    ASSERT_EQ(results.size(), 1u);
    EXPECT_FALSE(accepted_of(results[0]));
    EXPECT_FALSE(kernel_accepted_of(results[0]));
    ASSERT_FALSE(checks_of(results[0]).empty());
    EXPECT_EQ(checks_of(results[0])[0].get<0>(), "certificate.readable");
    EXPECT_EQ(checks_of(results[0])[0].get<1>(), "fail");

    // The same, smaller, as PEM: the text path reaches the same reader.
    const Bytes smaller = nested_sequence(700 * 1024);
    std::string pem = "-----BEGIN CERTIFICATE-----\n";
    {
        // Base64 by hand would be a second encoder; OpenSSL's is at hand.
        std::string b64(4 * ((smaller.size() + 2) / 3) + 1, '\0');
        int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), smaller.data(),
                                static_cast<int>(smaller.size()));
        b64.resize(static_cast<std::size_t>(n));
        for (std::size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
    }
    pem += "-----END CERTIFICATE-----\n";
    ASSERT_LE(pem.size(), ReadLimits{}.max_bytes);
    EXPECT_EQ(error_of("Enroll", Bytes(pem.begin(), pem.end()), std::string("ima"), Options{}),
              kInvalidCertificate);
    EXPECT_TRUE(kernel_keys("ima").empty());
    EXPECT_TRUE(still_serving());
}

// --- strings that are not UTF-8 ---------------------------------------------------------------

// The bus socket's path in "unix:path=/tmp/anchord-bus.X/bus,guid=...".
std::string socket_path_of(const std::string& address) {
    auto start = address.find("path=");
    if (start == std::string::npos) return "";
    start += 5;
    return address.substr(start, address.find(',', start) - start);
}

// A D-Bus peer speaking the wire protocol by hand (little-endian), for
// what sd-bus refuses to build.
class WirePeer {
  public:
    struct Message {
        std::uint8_t type = 0;  // 2 method return, 3 error, 4 signal
        std::uint32_t reply_serial = 0;
        std::string error_name;
    };

    explicit WirePeer(const std::string& address) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, socket_path_of(address).c_str(), sizeof addr.sun_path - 1);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
    WirePeer(const WirePeer&) = delete;
    WirePeer& operator=(const WirePeer&) = delete;
    ~WirePeer() {
        if (fd_ >= 0) ::close(fd_);
    }

    // SASL EXTERNAL as our uid, then Hello: true when the bus took us.
    bool connect() {
        std::string uid = std::to_string(::geteuid()), hex;
        for (char c : uid) {
            char b[3];
            std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(c));
            hex += b;
        }
        send_raw(std::string(1, '\0') + "AUTH EXTERNAL " + hex + "\r\n");
        std::string line;
        while (line.find("\r\n") == std::string::npos) {
            if (!receive_some()) return false;
            line.assign(in_.begin(), in_.end());
        }
        if (!line.starts_with("OK ")) return false;
        in_.erase(in_.begin(), in_.begin() + static_cast<long>(line.find("\r\n") + 2));
        send_raw("BEGIN\r\n");
        auto hello = call("/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello",
                          "org.freedesktop.DBus", "", {});
        auto reply = reply_to(hello);
        return reply && reply->type == 2;
    }

    // Sends a method call whose body is `body` (already marshalled, with
    // the signature `signature`); its serial.
    std::uint32_t call(std::string_view path, std::string_view interface, std::string_view member,
                       std::string_view destination, std::string_view signature,
                       const Bytes& body) {
        Bytes m;
        auto align = [&](std::size_t n) {
            while (m.size() % n) m.push_back(0);
        };
        auto u32 = [&](std::uint32_t v) {
            align(4);
            for (int i = 0; i < 4; ++i) m.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
        };
        auto text = [&](std::string_view s) {
            u32(static_cast<std::uint32_t>(s.size()));
            m.insert(m.end(), s.begin(), s.end());
            m.push_back(0);
        };
        auto sig = [&](std::string_view s) {
            m.push_back(static_cast<std::uint8_t>(s.size()));
            m.insert(m.end(), s.begin(), s.end());
            m.push_back(0);
        };
        const std::uint32_t serial = ++serial_;
        m = {'l', 1, 0, 1};
        u32(static_cast<std::uint32_t>(body.size()));
        u32(serial);
        u32(0);  // the header fields' length, filled in below
        auto field = [&](std::uint8_t code, char type, std::string_view value) {
            align(8);
            m.push_back(code);
            sig(std::string(1, type));
            if (type == 'g') {
                sig(value);
            } else {
                text(value);
            }
        };
        field(1, 'o', path);
        field(2, 's', interface);
        field(3, 's', member);
        field(6, 's', destination);
        if (!signature.empty()) field(8, 'g', signature);
        const auto fields = static_cast<std::uint32_t>(m.size() - 16);
        for (int i = 0; i < 4; ++i) m[12 + i] = static_cast<std::uint8_t>(fields >> (8 * i));
        align(8);
        m.insert(m.end(), body.begin(), body.end());
        send_raw(std::string(m.begin(), m.end()));
        return serial;
    }

    // The reply to `serial`; nullopt when the bus closes the connection
    // first (or nothing comes in time).
    std::optional<Message> reply_to(std::uint32_t serial) {
        for (;;) {
            while (auto m = next_message()) {
                if ((m->type == 2 || m->type == 3) && m->reply_serial == serial) return m;
            }
            if (!receive_some()) return std::nullopt;
        }
    }

    bool closed() const { return closed_; }

    // A string argument's body: length, bytes, NUL. Any bytes.
    static Bytes string_body(std::string_view s) {
        Bytes b;
        auto n = static_cast<std::uint32_t>(s.size());
        for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
        b.insert(b.end(), s.begin(), s.end());
        b.push_back(0);
        return b;
    }

  private:
    void send_raw(const std::string& bytes) {
        if (::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(bytes.size()))
            closed_ = true;
    }

    // Reads what is there (bounded wait); false on EOF, error or timeout.
    bool receive_some() {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kTimeout).count())) <= 0)
            return false;
        char buf[4096];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            closed_ = true;
            return false;
        }
        in_.insert(in_.end(), buf, buf + n);
        return true;
    }

    static std::uint32_t le32(const std::uint8_t* p) {
        return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
    }

    // One whole message off the input, when there is one.
    std::optional<Message> next_message() {
        if (in_.size() < 16 || in_[0] != 'l') return std::nullopt;
        const std::size_t fields = le32(&in_[12]);
        const std::size_t header = (16 + fields + 7) / 8 * 8;
        const std::size_t total = header + le32(&in_[4]);
        if (in_.size() < total) return std::nullopt;
        Message m;
        m.type = in_[1];
        const std::uint8_t* p = in_.data();
        for (std::size_t pos = 16; pos < 16 + fields;) {
            pos = (pos + 7) / 8 * 8;
            const std::uint8_t code = p[pos++];
            const std::uint8_t sig_len = p[pos++];
            const char type = static_cast<char>(p[pos]);
            pos += sig_len + 1u;
            if (type == 's' || type == 'o') {
                pos = (pos + 3) / 4 * 4;
                const std::size_t len = le32(p + pos);
                if (code == 4) m.error_name.assign(reinterpret_cast<const char*>(p + pos + 4), len);
                pos += 4 + len + 1;
            } else if (type == 'g') {
                pos += 1u + p[pos] + 1u;
            } else if (type == 'u') {
                pos = (pos + 3) / 4 * 4;
                if (code == 5) m.reply_serial = le32(p + pos);
                pos += 4;
            } else {
                break;  // no other type appears in a header the bus sends us
            }
        }
        in_.erase(in_.begin(), in_.begin() + static_cast<long>(total));
        return m;
    }

    int fd_ = -1;
    std::uint32_t serial_ = 0;
    Bytes in_;
    bool closed_ = false;
};

TEST_F(HostileTest, StringsThatAreNotUtf8NeverReachAnchord) {
    const std::string bad =
        "\xff\xfe"
        "ima\xc0\xaf";
    // sd-bus refuses to append such a string: the caller's own library
    // stops it, before anything is sent.
    EXPECT_EQ(error_of("Seal", bad), kInvalidArgs);
    EXPECT_EQ(error_of("Verify", pki_.chain.leaf.der, bad), kInvalidArgs);

    // Built by hand on the wire, the bus (dbus-daemon validates every
    // message it reads) drops the sender's connection: no reply comes and
    // anchord never sees the call. The same message with a well-formed
    // name shows the hand-built path does reach anchord.
    WirePeer peer(bus_->address());
    ASSERT_TRUE(peer.connect()) << "the bus did not take the hand-made connection";
    auto control = peer.call(kManagerPath, kManagerInterface, "Seal", kBusName, "s",
                             WirePeer::string_body("imaginary"));
    auto answer = peer.reply_to(control);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->type, 3);
    EXPECT_EQ(answer->error_name, kInvalidArgument);

    auto hostile = peer.call(kManagerPath, kManagerInterface, "Seal", kBusName, "s",
                             WirePeer::string_body(bad));
    EXPECT_FALSE(peer.reply_to(hostile)) << "the bus delivered a string that is not UTF-8";
    EXPECT_TRUE(peer.closed()) << "the bus should drop a peer that sends an invalid message";
    EXPECT_FALSE(keyring_property<bool>("ima", "Sealed"));
    EXPECT_TRUE(still_serving());
}

// A message over the bus's size limit is refused by the bus: the sender
// is disconnected, anchord is not involved.
TEST_F(HostileTest, AMessageOverTheBusLimitNeverReachesAnchord) {
    auto own = sdbus::createSessionBusConnectionWithAddress(bus_->address());
    auto proxy = sdbus::createProxy(*own, kBusName, kManagerPath);
    const Bytes enormous(60 * 1024 * 1024, 'A');
    auto name = error_name_of([&] {
        std::vector<BusResult> r;
        proxy->callMethod("Verify")
            .onInterface(kManagerInterface)
            .withArguments(enormous, std::string("ima"))
            .storeResultsTo(r);
    });
    std::cout << "[ hostile ] a 60 MiB Verify gets: " << name << "\n";
    EXPECT_NE(name, "");
    EXPECT_NE(name, kInvalidArgument) << "anchord should never have seen it";
    EXPECT_TRUE(still_serving());
}

// --- an unprivileged caller -------------------------------------------------------------------

TEST_F(HostileTest, AnUnprivilegedCallerGetsAccessDeniedOnEveryChange) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a caller as another uid";
    ASSERT_EQ(enroll(pki_.chain.leaf.der, "ima").size(), 1u);
    const auto ima_before = kernel_keys("ima");
    const auto digest_before = manager_property<std::string>("PolicyDigest");
    const auto other_leaf = make_signed(signing_spec("other leaf"), pki_.chain.intermediate);
    const auto address = bus_->address();
    const auto leaf_fp = fp(pki_.chain.leaf);

    // The caller reports "<method> <error name or ok>" per line.
    auto outcomes = run_callers({[&](int out) {
        if (!become_nobody()) return 10;
        auto bus = sdbus::createSessionBusConnectionWithAddress(address);
        auto proxy = sdbus::createProxy(*bus, kBusName, kManagerPath);
        auto report = [&](const std::string& method, const std::function<void()>& call) {
            auto name = error_name_of(call);
            write_all(out, method + " " + (name.empty() ? "ok" : name) + "\n");
        };
        report("Enroll", [&] {
            std::vector<BusResult> r;
            proxy->callMethod("Enroll")
                .onInterface(kManagerInterface)
                .withArguments(other_leaf.der, std::string("ima"), Options{})
                .storeResultsTo(r);
        });
        report("Enroll(partial)", [&] {
            std::vector<BusResult> r;
            proxy->callMethod("Enroll")
                .onInterface(kManagerInterface)
                .withArguments(other_leaf.der, std::string("ima"),
                               Options{{"partial", sdbus::Variant(true)}})
                .storeResultsTo(r);
        });
        report("Remove", [&] {
            proxy->callMethod("Remove")
                .onInterface(kManagerInterface)
                .withArguments(leaf_fp, std::string("ima"));
        });
        report("Seal", [&] {
            proxy->callMethod("Seal")
                .onInterface(kManagerInterface)
                .withArguments(std::string("ima"));
        });
        report("Reconcile", [&] { proxy->callMethod("Reconcile").onInterface(kManagerInterface); });
        report("ReloadPolicy",
               [&] { proxy->callMethod("ReloadPolicy").onInterface(kManagerInterface); });
        // Reading stays open to everyone.
        report("Verify", [&] {
            std::vector<BusResult> r;
            proxy->callMethod("Verify")
                .onInterface(kManagerInterface)
                .withArguments(other_leaf.der, std::string("ima"))
                .storeResultsTo(r);
        });
        report("GetPolicy", [&] {
            std::string json, digest;
            proxy->callMethod("GetPolicy")
                .onInterface(kManagerInterface)
                .storeResultsTo(json, digest);
        });
        return 0;
    }});
    ASSERT_EQ(outcomes.size(), 1u);
    ASSERT_EQ(outcomes[0].exit_code, 0) << "10: the caller could not become nobody";
    std::map<std::string, std::string> answers;
    std::istringstream lines(outcomes[0].output);
    for (std::string method, name; lines >> method >> name;) answers[method] = name;
    std::cout << "[ hostile ] as uid 65534:";
    for (const auto& [method, name] : answers) std::cout << " " << method << "=" << name;
    std::cout << "\n";
    for (const char* method :
         {"Enroll", "Enroll(partial)", "Remove", "Seal", "Reconcile", "ReloadPolicy"}) {
        EXPECT_EQ(answers[method], kAccessDenied) << method;
    }
    EXPECT_EQ(answers["Verify"], "ok");
    EXPECT_EQ(answers["GetPolicy"], "ok");

    // Nothing changed.
    EXPECT_EQ(kernel_keys("ima"), ima_before);
    EXPECT_EQ(fingerprints("ima"), std::set<std::string>{leaf_fp});
    EXPECT_FALSE(keyring_property<bool>("ima", "Sealed"));
    EXPECT_EQ(manager_property<std::string>("PolicyDigest"), digest_before);
    EXPECT_TRUE(still_serving());
}

}  // namespace
}  // namespace anchord::testing
