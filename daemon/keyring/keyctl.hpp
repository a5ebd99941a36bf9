// Thin, typed wrappers over the libkeyutils calls the keyring code uses, and
// readers for what the kernel shows in /proc (keys, crypto, config). Every
// throwing wrapper throws KernelError built from the errno.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "anchord/certificate.hpp"
#include "keyring/keyring.hpp"

namespace anchord::keyring::sys {

// Special keyring ids (KEY_SPEC_*), kept here so callers need no keyutils.h.
inline constexpr KeySerial kProcessKeyring{-2};
inline constexpr KeySerial kSessionKeyring{-3};
inline constexpr KeySerial kUserKeyring{-4};

// keyctl_describe: "type;uid;gid;perm;description".
struct Description {
    std::string type;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::uint32_t permissions = 0;
    std::string description;
};
std::optional<Description> parse_description(std::string_view raw);

// 0 and `out` filled, or the errno.
int try_describe(KeySerial key, Description& out);
Description describe(KeySerial key, const std::string& context);

// The serials a keyring links (keyctl_read); throws KernelError.
std::vector<KeySerial> read_keyring(KeySerial ring, const std::string& context);

// add_key("keyring", name) into `parent`; throws KernelError.
KeySerial new_keyring(const std::string& name, KeySerial parent);
// add_key(type, description, payload) into `ring`: the serial, or -errno.
std::int64_t add_key(const char* type, const char* description, ByteView payload, KeySerial ring);

void link(KeySerial key, KeySerial ring, const std::string& context);
// keyctl_restrict_keyring: 0 or the errno. A Sealed restriction passes no type.
int try_restrict(KeySerial ring, const Restriction& restriction);
void set_permissions(KeySerial key, std::uint32_t permissions, const std::string& context);
// keyctl_search(ring, type, description) recursively: the key, or nullopt.
std::optional<KeySerial> search(KeySerial ring, const char* type, const std::string& description);

// One line of /proc/keys. `type` is cut to 9 characters by the kernel
// ("asymmetri"); `rest` is the description followed by the type's own
// summary (": empty", ": 3", ": X509.rsa 3b42fcc0 []").
struct ProcKey {
    KeySerial serial;
    std::string flags;
    std::uint32_t permissions = 0;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::string type;
    std::string rest;
};
std::vector<ProcKey> parse_proc_keys(std::string_view text);
std::vector<ProcKey> read_proc_keys();  // empty when /proc/keys is unreadable
// The keyring /proc/keys names `name`, owned by `uid` (the kernel's own
// keyrings belong to root).
std::optional<KeySerial> find_keyring(const std::vector<ProcKey>& keys, std::string_view name,
                                      std::uint32_t uid = 0);

// Whether `description` ends with the SKID, judged from /proc/keys' summary
// of the key (the kernel prints the SKID's last 4 bytes only when the
// certificate has one); the SKID bytes, or nullopt.
std::optional<Bytes> subject_key_id(std::string_view description, std::string_view proc_rest);

std::optional<std::string> read_text_file(const std::string& path);
// /proc/config.gz (inflated) or /boot/config-<release>: nullopt when neither
// is readable.
struct KernelConfigText {
    std::string text;
    std::string source;  // the path it was read from
};
std::optional<KernelConfigText> read_kernel_config_text(std::string_view release);

}  // namespace anchord::keyring::sys
