#include "keyring/keyrings.hpp"

#include <keyutils.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "keyring/keyctl.hpp"

namespace anchord::keyring {
namespace {

// Sandbox keyrings: we possess them; the same uid may also view, read and
// search them (so `keyctl list` can inspect a sandbox from outside) and
// write them, so that OwnedKeyring can clear them even from a process that
// no longer possesses them (the kernel's restrictions still apply).
constexpr std::uint32_t kSandboxPermissions =
    KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ | KEY_USR_WRITE | KEY_USR_SEARCH;
// An _ima/_evm we create gets what the kernel gives its own .ima (user may
// view, read, write, search) plus setattr, so an anchord whose session
// keyring does not link the user keyring (systemd's KeyringMode=private,
// a test's private session) can still enroll into it, seal it and, when it
// finds it again, ask the kernel whether it is restricted.
constexpr std::uint32_t kIntegrityPermissions =
    KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ | KEY_USR_WRITE | KEY_USR_SEARCH | KEY_USR_SETATTR;

// Scratch keyrings: private to the process keyring, but writable and
// searchable by our uid so the guard can clear and invalidate one whatever
// happened to our keyrings meanwhile.
constexpr std::uint32_t kScratchPermissions =
    KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_WRITE | KEY_USR_SEARCH;
constexpr std::string_view kTrialKeyringName = "anchord:trial";

std::string sandbox_name(std::string_view logical) {
    return std::string(kSandboxPrefix) + std::string(logical);
}

std::string label(const KeyringLocation& loc) {
    return std::string(to_string(loc.name)) + " (" + loc.kernel_name + ")";
}

std::string fingerprint_text(ByteView der) {
    return "sha256:" + Sha256::of(der).hex();
}

// What the listing learns from /proc/keys about a key just added from
// `der`, told from the DER alone: the kernel ends the description with the
// SKID when the certificate has one. The SKID extension's OID
// (06 03 55 1D 0E) absent: none, nullopt inside. Present, and the octets
// it holds are the description's tail: that SKID. Anything else: not
// known (outer nullopt), and the listing asks /proc/keys as for any key.
std::optional<std::optional<Bytes>> skid_from_der(ByteView der, std::string_view description) {
    static constexpr std::uint8_t kSkidOid[] = {0x06, 0x03, 0x55, 0x1d, 0x0e};
    auto at = std::search(der.begin(), der.end(), std::begin(kSkidOid), std::end(kSkidOid));
    if (at == der.end()) return std::optional<Bytes>{};
    ByteView rest = der.subspan(static_cast<std::size_t>(at - der.begin()) + sizeof kSkidOid);
    if (rest.size() >= 3 && rest[0] == 0x01 && rest[1] == 0x01) rest = rest.subspan(3);  // critical
    // extnValue OCTET STRING { OCTET STRING skid }, short lengths only.
    if (rest.size() < 4 || rest[0] != 0x04 || rest[2] != 0x04 || rest[1] != rest[3] + 2 ||
        rest[3] >= 0x80 || rest.size() < 4u + rest[3])
        return std::nullopt;
    Bytes skid(rest.begin() + 4, rest.begin() + 4 + rest[3]);
    auto colon = description.rfind(": ");
    if (colon == std::string_view::npos) return std::nullopt;
    auto tail = from_hex(description.substr(colon + 2));
    if (!tail || *tail != skid) return std::nullopt;
    return std::optional<Bytes>(std::move(skid));
}

std::string hex32(std::uint32_t v) {
    char buffer[9];
    std::snprintf(buffer, sizeof buffer, "%08x", v);
    return buffer;
}

// The sandbox's secondary: keys signed by a key in builtin or in secondary
// itself (which nests builtin and machine).
Restriction secondary_restriction(KeySerial builtin) {
    Restriction r{Restriction::Kind::KeyOrKeyring, builtin};
    r.chain = true;
    return r;
}

Restriction restriction_of(KernelRestriction r) {
    switch (r) {
        case KernelRestriction::BuiltinTrusted:
            return {Restriction::Kind::BuiltinTrusted};
        case KernelRestriction::BuiltinAndSecondaryTrusted:
            return {Restriction::Kind::BuiltinAndSecondaryTrusted};
        case KernelRestriction::None:
            break;
    }
    return {Restriction::Kind::None};
}

// What the kernel checks on a link into one of its own keyrings, from its
// source (certs/system_keyring.c, security/integrity/digsig.c) and its
// configuration. .builtin_trusted_keys, .machine and .platform refuse
// userspace by their permissions, which trial() reads directly.
Restriction kernel_restriction(std::string_view name, const std::optional<KernelConfig>& config) {
    using Kind = Restriction::Kind;
    if (name == ".secondary_trusted_keys") return {Kind::BuiltinAndSecondaryTrusted};
    if (name == ".ima" || name == ".evm") {
        // restrict_link_to_ima: builtin only, unless the kernel permits
        // keys vouched for by the secondary keyring.
        if (!config) return {Kind::BuiltinTrusted, std::nullopt, true};
        bool secondary =
            config->enabled("CONFIG_IMA_KEYRINGS_PERMIT_SIGNED_BY_BUILTIN_OR_SECONDARY");
        return {secondary ? Kind::BuiltinAndSecondaryTrusted : Kind::BuiltinTrusted};
    }
    if (name == ".builtin_trusted_keys" || name == ".machine" || name == ".platform") {
        return {Kind::None};
    }
    return {Kind::Unknown};
}

// The kernel's key_task_permission, for write, without possession (the
// kernel's keyrings cannot be possessed: userspace may not link them).
bool may_write_unpossessed(const sys::Description& d) {
    std::uint32_t bits = d.permissions;  // "other"
    if (d.uid == geteuid()) {
        bits = d.permissions >> 16;
    } else if (d.permissions & KEY_GRP_ALL) {
        bool member = d.gid == getegid();
        if (!member) {
            int n = getgroups(0, nullptr);
            std::vector<gid_t> groups(static_cast<std::size_t>(std::max(n, 0)));
            if (n > 0 && getgroups(n, groups.data()) == n) {
                member = std::find(groups.begin(), groups.end(), d.gid) != groups.end();
            }
        }
        if (member) bits = d.permissions >> 8;
    }
    return (bits & KEY_OTH_WRITE) != 0;
}

// Every write and setattr bit, for possessor, user, group and other: a
// keyring without them refuses every add_key/keyctl_link (EACCES; root has
// no override for key permissions) and any change of its permissions, yet
// may still be viewed, read and searched.
constexpr std::uint32_t kWriteBits = KEY_POS_WRITE | KEY_USR_WRITE | KEY_GRP_WRITE | KEY_OTH_WRITE;
constexpr std::uint32_t kSetattrBits =
    KEY_POS_SETATTR | KEY_USR_SETATTR | KEY_GRP_SETATTR | KEY_OTH_SETATTR;

// Sealed by its permissions: nobody may link into it.
bool sealed_by_permissions(std::uint32_t permissions) {
    return (permissions & kWriteBits) == 0;
}

std::string restriction_measurement(const Restriction& r) {
    using Kind = Restriction::Kind;
    switch (r.kind) {
        case Kind::Sealed:
            return "seal (a keyring restricted with no rule refuses every link)";
        case Kind::BuiltinTrusted:
        case Kind::BuiltinAndSecondaryTrusted:
        case Kind::KeyOrKeyring:
            return "signature chain (" + r.to_string() + ")";
        case Kind::Unknown:
            return "no signature chain: the keyring's restriction is unknown, none reproduced";
        case Kind::None:
            break;
    }
    return "no signature chain: the keyring is not restricted";
}

}  // namespace

Keyrings::Keyrings(Keyrings&&) noexcept = default;
Keyrings& Keyrings::operator=(Keyrings&& other) noexcept {
    if (this != &other) {
        while (!owned_.empty()) owned_.pop_back();
        sandbox_ = other.sandbox_;
        locations_ = std::move(other.locations_);
        blacklist_ = other.blacklist_;
        profile_ = std::move(other.profile_);
        owned_ = std::move(other.owned_);
        list_cache_ = std::move(other.list_cache_);
    }
    return *this;
}

Keyrings::~Keyrings() {
    // Children before the top keyring they hang from.
    while (!owned_.empty()) owned_.pop_back();
}

Keyrings Keyrings::system(const Policy& policy, bool create_missing) {
    Keyrings ks;
    auto config = read_kernel_config();
    auto proc = sys::read_proc_keys();
    ks.profile_ = detect_kernel_profile();
    ks.blacklist_ = sys::find_keyring(proc, ".blacklist");

    for (LogicalKeyring k : kAllLogicalKeyrings) {
        KeyringLocation loc;
        loc.name = k;
        loc.restriction = {Restriction::Kind::None};
        const KeyringPolicy* kp = policy.find(k);
        if (kp == nullptr || kp->kernel_keyring.empty()) {
            ks.locations_[k] = loc;
            continue;
        }
        loc.kernel_name = kp->kernel_keyring;

        if (loc.kernel_name.front() == '.') {
            // Only the kernel may name a keyring with a leading dot.
            loc.serial = sys::find_keyring(proc, loc.kernel_name);
            loc.restriction = kernel_restriction(loc.kernel_name, config);
            loc.kernel_restricted = true;
            ks.locations_[k] = loc;
            continue;
        }

        loc.userspace_made = true;
        Restriction wanted = restriction_of(kp->create_restriction);
        if (auto found = sys::search(sys::kUserKeyring, "keyring", loc.kernel_name)) {
            loc.serial = found;
            loc.restriction = {Restriction::Kind::Unknown};
            if (create_missing && wanted.kind != Restriction::Kind::None) {
                int err = sys::try_restrict(*found, wanted);
                if (err == EACCES || err == EPERM) {
                    // Made by someone who kept it to themselves (dracut's
                    // `keyctl newring` gives the user view only): we cannot
                    // ask, and leave it as found.
                    ks.locations_[k] = loc;
                    continue;
                }
                if (err == EEXIST) {
                    // Restricted before we came: most likely by an earlier
                    // anchord with the same policy, but the kernel won't say.
                    wanted.assumed = true;
                } else if (err != 0) {
                    throw kernel_error(err,
                                       "restricting the existing keyring " + label(loc) + " to " +
                                           wanted.to_string(),
                                       KernelCall::Other);
                }
                loc.restriction = wanted;
                loc.kernel_restricted = true;
            }
        } else if (create_missing) {
            // Made in our process keyring first, where we possess it, so we
            // may set its permissions and restriction whatever our session
            // keyring links; then moved to the user keyring, where IMA's
            // request_key finds it (as `keyctl newring _ima @u`).
            OwnedKeyring made(sys::new_keyring(loc.kernel_name, sys::kProcessKeyring),
                              sys::kProcessKeyring);
            sys::set_permissions(made.get(), kIntegrityPermissions,
                                 "setting the permissions of " + label(loc));
            if (wanted.kind != Restriction::Kind::None) {
                if (int err = sys::try_restrict(made.get(), wanted)) {
                    throw kernel_error(err,
                                       "restricting " + label(loc) + " to " + wanted.to_string(),
                                       KernelCall::Other);
                }
            }
            sys::link(made.get(), sys::kUserKeyring,
                      "linking " + label(loc) + " into the user keyring");
            keyctl_unlink(made.get().value, sys::kProcessKeyring.value);
            loc.serial = made.release();
            loc.restriction = wanted;
            loc.kernel_restricted = wanted.kind != Restriction::Kind::None;
        }
        ks.locations_[k] = loc;
    }
    return ks;
}

Keyrings Keyrings::sandbox(const std::vector<Certificate>& anchors,
                           const std::vector<Certificate>& machine,
                           const std::vector<Certificate>& platform) {
    using Kind = Restriction::Kind;
    Keyrings ks;
    ks.sandbox_ = true;
    ks.profile_ = detect_kernel_profile();

    KeySerial top = sys::new_keyring(sandbox_name("sandbox"), sys::kSessionKeyring);
    ks.owned_.emplace_back(top, sys::kSessionKeyring);
    sys::set_permissions(top, kSandboxPermissions, "setting the sandbox's permissions");
    auto make = [&](std::string_view logical) {
        std::string name = sandbox_name(logical);
        KeySerial ring = sys::new_keyring(name, top);
        ks.owned_.emplace_back(ring, top);
        sys::set_permissions(ring, kSandboxPermissions, "setting the permissions of " + name);
        return ring;
    };
    auto restrict = [](KeySerial ring, const Restriction& r, const std::string& name) {
        if (int err = sys::try_restrict(ring, r)) {
            throw kernel_error(err, "restricting " + name + " to " + r.to_string(),
                               KernelCall::Other);
        }
    };
    auto load_and_seal = [&](std::string_view logical, const std::vector<Certificate>& certs) {
        KeySerial ring = make(logical);
        std::string name = sandbox_name(logical);
        for (std::size_t i = 0; i < certs.size(); ++i) {
            std::int64_t rc = sys::add_key("asymmetric", nullptr, certs[i].der(), ring);
            if (rc < 0) {
                throw kernel_error(static_cast<int>(-rc),
                                   "loading certificate #" + std::to_string(i) + " (" +
                                       fingerprint_text(certs[i].der()) + ") into " + name);
            }
        }
        restrict(ring, {Kind::Sealed}, name);
        return ring;
    };

    KeySerial builtin = load_and_seal("builtin", anchors);
    KeySerial machine_ring = load_and_seal("machine", machine);
    KeySerial platform_ring = load_and_seal("platform", platform);

    KeySerial secondary = make("secondary");
    sys::link(builtin, secondary, "nesting anchord:builtin in anchord:secondary");
    sys::link(machine_ring, secondary, "nesting anchord:machine in anchord:secondary");
    // The kernel refuses a restriction that names the keyring itself
    // (EDEADLK); ":chain" makes it search the keyring itself too, and so
    // the nested builtin and machine. A keyring linking secondary back would
    // do the same but hold secondary's restriction in a cycle the kernel
    // never collects: the sandbox would outlive its session keyring.
    const Restriction secondary_rule = secondary_restriction(builtin);
    restrict(secondary, secondary_rule, sandbox_name("secondary"));

    Restriction integrity_rule{Kind::KeyOrKeyring, secondary};
    KeySerial ima = make("ima");
    restrict(ima, integrity_rule, sandbox_name("ima"));
    KeySerial evm = make("evm");
    restrict(evm, integrity_rule, sandbox_name("evm"));
    ks.blacklist_ = make("blacklist");

    auto place = [&](LogicalKeyring k, KeySerial ring, Restriction r) {
        KeyringLocation loc;
        loc.name = k;
        loc.kernel_name = sandbox_name(to_string(k));
        loc.serial = ring;
        loc.kernel_restricted = true;
        loc.userspace_made = true;
        loc.restriction = r;
        ks.locations_[k] = loc;
    };
    place(LogicalKeyring::Builtin, builtin, {Kind::Sealed});
    place(LogicalKeyring::Machine, machine_ring, {Kind::Sealed});
    place(LogicalKeyring::Platform, platform_ring, {Kind::Sealed});
    place(LogicalKeyring::Secondary, secondary, secondary_rule);
    place(LogicalKeyring::Ima, ima, integrity_rule);
    place(LogicalKeyring::Evm, evm, integrity_rule);
    return ks;
}

std::optional<Keyrings> Keyrings::adopt_sandbox(const std::vector<Certificate>& anchors) {
    using Kind = Restriction::Kind;
    auto keyrings_in = [](KeySerial ring) {
        std::map<std::string, KeySerial> out;
        std::vector<KeySerial> serials;
        try {
            serials = sys::read_keyring(ring, "listing a keyring");
        } catch (const KernelError&) {
            return out;
        }
        for (auto serial : serials) {
            sys::Description d;
            if (sys::try_describe(serial, d) == 0 && d.type == "keyring")
                out.emplace(d.description, serial);
        }
        return out;
    };
    auto session = keyrings_in(sys::kSessionKeyring);
    auto found_top = session.find(sandbox_name("sandbox"));
    if (found_top == session.end()) return std::nullopt;
    const KeySerial top = found_top->second;
    auto children = keyrings_in(top);
    std::map<std::string_view, KeySerial> ring;
    for (std::string_view logical :
         {"builtin", "machine", "platform", "secondary", "ima", "evm", "blacklist"}) {
        auto it = children.find(sandbox_name(logical));
        if (it == children.end()) return std::nullopt;
        ring.emplace(logical, it->second);
    }

    // Another set of anchors makes another sandbox: the keys it vouched for
    // would not be what this anchord trusts.
    std::multiset<std::string> wanted;
    for (const auto& a : anchors) wanted.insert(a.info().kernel_description);
    std::multiset<std::string> held;
    try {
        for (auto serial : sys::read_keyring(ring.at("builtin"), "listing anchord:builtin")) {
            sys::Description d;
            if (sys::try_describe(serial, d) == 0 && d.type == "asymmetric")
                held.insert(d.description);
        }
    } catch (const KernelError&) {
        return std::nullopt;
    }
    if (held != wanted) return std::nullopt;

    Keyrings ks;
    ks.sandbox_ = true;
    ks.profile_ = detect_kernel_profile();
    // In the order sandbox() makes them: the top is destroyed last.
    ks.owned_.emplace_back(top, sys::kSessionKeyring);
    for (std::string_view logical :
         {"builtin", "machine", "platform", "secondary", "ima", "evm", "blacklist"}) {
        ks.owned_.emplace_back(ring.at(logical), top);
    }
    ks.blacklist_ = ring.at("blacklist");
    auto place = [&](LogicalKeyring k, Restriction r) {
        KeyringLocation loc;
        loc.name = k;
        loc.kernel_name = sandbox_name(to_string(k));
        loc.serial = ring.at(to_string(k));
        loc.kernel_restricted = true;
        loc.userspace_made = true;
        loc.restriction = r;
        ks.locations_[k] = loc;
    };
    place(LogicalKeyring::Builtin, {Kind::Sealed});
    place(LogicalKeyring::Machine, {Kind::Sealed});
    place(LogicalKeyring::Platform, {Kind::Sealed});
    place(LogicalKeyring::Secondary, secondary_restriction(ring.at("builtin")));
    place(LogicalKeyring::Ima, {Kind::KeyOrKeyring, ring.at("secondary")});
    place(LogicalKeyring::Evm, {Kind::KeyOrKeyring, ring.at("secondary")});
    return ks;
}

const KeyringLocation& Keyrings::location(LogicalKeyring k) const {
    auto it = locations_.find(k);
    if (it == locations_.end()) {
        throw Error(ErrorCode::NotFound, "no keyring is known for " + std::string(to_string(k)));
    }
    return it->second;
}

const KeyringLocation& Keyrings::present(LogicalKeyring k) const {
    const KeyringLocation& loc = location(k);
    if (loc.kernel_name.empty()) {
        throw Error(ErrorCode::NotFound,
                    "the policy maps " + std::string(to_string(k)) + " to no kernel keyring");
    }
    if (!loc.serial) {
        throw Error(ErrorCode::NotFound,
                    "keyring " + label(loc) + " is absent on this kernel" +
                        (loc.userspace_made ? " (anchord creates it only when told to)" : ""));
    }
    return loc;
}

std::vector<KeyEntry> Keyrings::list(LogicalKeyring k) const {
    return listing(k).keys();
}

namespace {
std::vector<KeySerial> serials_of(KeySerial ring) {
    return sys::read_keyring(ring, "listing keyring " + std::to_string(ring.value));
}
}  // namespace

std::vector<KeySerial> Keyrings::serials(LogicalKeyring k) const {
    return serials_of(*present(k).serial);
}

std::vector<KeyEntry> Keyrings::list_serial(KeySerial ring) const {
    return describe(ring, serials_of(ring)).keys();
}

Listing Keyrings::listing(LogicalKeyring k) const {
    const KeySerial ring = *present(k).serial;
    return describe(ring, serials_of(ring));
}

Listing Keyrings::listing(LogicalKeyring k, const std::vector<KeySerial>& serials) const {
    return describe(*present(k).serial, serials);
}

Listing Keyrings::describe(KeySerial ring, const std::vector<KeySerial>& serials) const {
    // Taken out while listing: a concurrent listing of the same keyring
    // finds none and describes every key, which is slower but as right.
    ListCache::Ring previous;
    if (list_cache_) {
        std::lock_guard lock(list_cache_->mutex);
        if (auto it = list_cache_->rings.find(ring.value); it != list_cache_->rings.end()) {
            if (it->second.every_key_known && it->second.serials == serials) return it->second.last;
            previous = std::move(it->second);
            list_cache_->rings.erase(it);
        }
    }
    std::unordered_map<std::int32_t, std::size_t> known;
    std::vector<KeyEntry> out;
    out.reserve(serials.size());
    std::vector<std::size_t> need_skid;  // asymmetric keys not seen before
    for (KeySerial s : serials) {
        if (auto it = previous.known.find(s.value); it != previous.known.end()) {
            known.emplace(s.value, out.size());
            out.push_back(previous.last[it->second]);
            continue;
        }
        if (auto it = previous.added.find(s.value); it != previous.added.end()) {
            known.emplace(s.value, out.size());
            out.push_back(std::move(it->second));
            continue;
        }
        sys::Description d;
        int err = sys::try_describe(s, d);
        if (err == ENOKEY || err == EKEYREVOKED || err == EKEYEXPIRED) continue;  // gone meanwhile
        KeyEntry e;
        e.serial = s;
        if (err == 0) {
            e.type = d.type;
            e.description = d.description;
            e.permissions = d.permissions;
            e.uid = d.uid;
            e.gid = d.gid;
        }
        if (e.type == "asymmetric") need_skid.push_back(out.size());
        out.push_back(std::move(e));
    }
    if (!need_skid.empty()) {
        // /proc/keys is read whole (its cost grows with every key on the
        // system), once, and only when a key is new to this listing.
        auto proc = sys::read_proc_keys();
        std::unordered_map<std::int32_t, const std::string*> rest;
        rest.reserve(proc.size());
        for (const auto& p : proc) rest.emplace(p.serial.value, &p.rest);
        for (auto i : need_skid) {
            KeyEntry& e = out[i];
            auto it = rest.find(e.serial.value);
            e.subject_key_id =
                sys::subject_key_id(e.description, it == rest.end() ? "" : *it->second);
            if (it != rest.end()) known.emplace(e.serial.value, i);
        }
    }
    const bool every_key_known = known.size() == out.size() && out.size() == serials.size();
    Listing listed(std::move(out));
    if (list_cache_) {
        std::lock_guard lock(list_cache_->mutex);
        auto& r = list_cache_->rings[ring.value];
        // An add() meanwhile, into the ring taken out above, stays for the next.
        auto added = std::move(r.added);
        r = ListCache::Ring{serials, listed, std::move(known), std::move(added), every_key_known};
    }
    return listed;
}

AddResult Keyrings::add(LogicalKeyring k, ByteView der) {
    return link_certificate(k, der, nullptr);
}

AddResult Keyrings::add(LogicalKeyring k, ByteView der, Descriptions& descriptions) {
    return link_certificate(k, der, &descriptions);
}

AddResult Keyrings::link_certificate(LogicalKeyring k, ByteView der, Descriptions* descriptions) {
    const KeyringLocation& loc = present(k);
    // Hashed only for a message: a SHA-256 per add showed in the boot
    // re-apply's profile.
    auto context = [&] { return "linking " + fingerprint_text(der) + " into " + label(loc); };
    const std::string reading = "reading " + label(loc);

    // Measured: a key with the same description is replaced in place, its
    // link handed to the new key, so the keyring then misses a serial it
    // had. Its serials before and after tell that in two reads, where
    // describing every key cost N system calls per add (quadratic over a
    // batch, and over the boot re-apply).
    std::optional<std::vector<KeySerial>> before;
    try {
        if (!descriptions) before = sys::read_keyring(*loc.serial, reading);
    } catch (const KernelError&) {
        // Unreadable: already_present cannot be told, the add still can.
    }

    std::int64_t rc = sys::add_key("asymmetric", nullptr, der, *loc.serial);
    if (rc < 0) {
        int err = static_cast<int>(-rc);
        sys::Description d;
        if (err == EACCES && sys::try_describe(*loc.serial, d) == 0 &&
            sealed_by_permissions(d.permissions)) {
            throw KernelError(ErrorCode::Sealed, err,
                              context() + ": " + errno_name(err) +
                                  ": the keyring is sealed: its permissions (" +
                                  hex32(d.permissions) + ") let nobody link into it");
        }
        throw kernel_error(err, context());
    }
    AddResult result;
    result.serial = KeySerial{static_cast<std::int32_t>(rc)};
    sys::Description added;
    if (sys::try_describe(result.serial, added) != 0) return result;
    if (auto skid = skid_from_der(der, added.description); skid && list_cache_) {
        // The next listing of this keyring then reads no /proc/keys for it.
        KeyEntry e;
        e.serial = result.serial;
        e.type = added.type;
        e.description = added.description;
        e.permissions = added.permissions;
        e.uid = added.uid;
        e.gid = added.gid;
        e.subject_key_id = std::move(*skid);
        std::lock_guard lock(list_cache_->mutex);
        list_cache_->rings[loc.serial->value].added.insert_or_assign(result.serial.value,
                                                                     std::move(e));
    }
    result.description = added.description;
    if (descriptions) {
        // The kernel replaces a key of the same type and description; the
        // caller's list holds only asymmetric keys, as this one is.
        result.already_present = descriptions->contains(added.description);
        descriptions->add(added.description);
        return result;
    }
    if (!before) return result;
    std::vector<KeySerial> after;
    try {
        after = sys::read_keyring(*loc.serial, reading);
    } catch (const KernelError&) {
        return result;
    }
    // Grown: nothing was replaced (the common case, told without a search;
    // a key another process linked meanwhile can hide a replacement).
    if (after.size() > before->size()) return result;
    std::unordered_set<std::int32_t> now;
    for (auto s : after) now.insert(s.value);
    for (auto s : *before) {
        if (now.contains(s.value)) continue;
        // The replaced key may be gone already (nothing else held it); one
        // that another process unlinked meanwhile still has its own name.
        sys::Description old;
        if (sys::try_describe(s, old) != 0 ||
            (old.type == added.type && old.description == added.description)) {
            result.already_present = true;
            break;
        }
    }
    return result;
}

void Keyrings::unlink(LogicalKeyring k, KeySerial key) {
    const KeyringLocation& loc = present(k);
    if (keyctl_unlink(key.value, loc.serial->value) < 0) {
        int err = errno;
        sys::Description d;
        if (err == EACCES && sys::try_describe(*loc.serial, d) == 0 &&
            sealed_by_permissions(d.permissions)) {
            throw KernelError(
                ErrorCode::Sealed, err,
                "unlinking key " + std::to_string(key.value) + " from " + label(loc) + ": " +
                    errno_name(err) + ": the keyring is sealed by its permissions (" +
                    hex32(d.permissions) + "), which refuse unlinks too until it is gone");
        }
        throw kernel_error(err,
                           "unlinking key " + std::to_string(key.value) + " from " + label(loc),
                           KernelCall::Other);
    }
}

bool Keyrings::seal(LogicalKeyring k) {
    const KeyringLocation& found = present(k);
    KeyringLocation& loc = locations_.at(found.name);
    std::string context = "sealing " + label(loc);
    // Sealed by its permissions already (an earlier seal(), an earlier
    // anchord): it has no setattr left, so restrict and setperm would both
    // answer EACCES, yet the kernel does refuse every link.
    sys::Description d;
    if (sys::try_describe(*loc.serial, d) == 0 && sealed_by_permissions(d.permissions)) {
        return true;
    }
    int err = sys::try_restrict(*loc.serial, {Restriction::Kind::Sealed});
    if (err == 0) {
        loc.restriction = {Restriction::Kind::Sealed};
        loc.kernel_restricted = true;
        return true;
    }
    if (err == EEXIST) {
        // Sealed by an earlier restrict: the kernel refuses links already,
        // and unlinks stay possible.
        if (loc.restriction.kind == Restriction::Kind::Sealed) return true;
        // The kernel keeps one restriction per keyring and this one has its
        // rule: take away every write and setattr bit instead. The kernel
        // then refuses every link (EACCES, root included) and any change of
        // the permissions back; view, read and search stay for listing.
        sys::Description now = sys::describe(*loc.serial, "describing " + label(loc));
        sys::set_permissions(
            *loc.serial, now.permissions & ~(kWriteBits | kSetattrBits),
            context + " by taking away write and setattr (perm " + hex32(now.permissions) + ")");
        return true;
    }
    if ((err == EACCES || err == EPERM) && !loc.userspace_made) {
        throw KernelError(ErrorCode::AccessDenied, err,
                          context + ": " + errno_name(err) +
                              ": the kernel made this keyring and refuses to restrict it, even "
                              "for root; anchord keeps its own seal on it instead");
    }
    throw kernel_error(err, context, KernelCall::Other);
}

TrialResult Keyrings::trial(LogicalKeyring k, ByteView der) const {
    const KeyringLocation& loc = present(k);
    TrialResult result;
    auto refuse = [&](int err) {
        result.accepted = false;
        result.error_number = err;
        result.error_name = errno_name(err);
        result.reason = explain_errno(err);
    };

    if (!sandbox_) {
        if (profile_.digsig_rule && (loc.kernel_name == ".ima" || loc.kernel_name == ".evm")) {
            result.predicted.push_back("kernel.digsig");
        }
        if (loc.kernel_name == ".machine" &&
            (profile_.ca_machine_keyring || profile_.ca_machine_keyring_max)) {
            result.predicted.push_back("kernel.ca-enforcement");
        }
    } else {
        result.predicted.push_back("sandbox.blacklist");  // anchord:blacklist is not enforced
    }
    if (loc.restriction.kind == Restriction::Kind::Unknown) {
        result.predicted.push_back("kernel.restriction");
    } else if (loc.restriction.assumed) {
        result.predicted.push_back("kernel.restriction (" + loc.restriction.to_string() + ")");
    }

    // The kernel looks up the destination with write permission before it
    // reads the payload: a keyring the caller may not write answers EACCES
    // to anything.
    sys::Description target = sys::describe(*loc.serial, "describing " + label(loc));
    if (sealed_by_permissions(target.permissions)) {
        result.measured.push_back("write permission (perm " + hex32(target.permissions) +
                                  ": sealed, nobody may write)");
        refuse(EACCES);
        result.reason = label(loc) + " is sealed by its permissions: " + result.reason;
        return result;
    }
    if (!loc.userspace_made && !may_write_unpossessed(target)) {
        result.measured.push_back("write permission (perm " + hex32(target.permissions) +
                                  ", owner uid " + std::to_string(target.uid) + ")");
        refuse(EACCES);
        result.reason = label(loc) + " does not accept links from userspace: " + result.reason;
        return result;
    }

    OwnedKeyring scratch(sys::new_keyring(std::string(kTrialKeyringName), sys::kProcessKeyring),
                         sys::kProcessKeyring);
    sys::set_permissions(scratch.get(), kScratchPermissions, "preparing a scratch keyring");
    Restriction rule = loc.restriction;
    if (rule.kind == Restriction::Kind::KeyOrKeyring && rule.chain) {
        // ":chain" also trusts the keys of the destination itself: the
        // scratch keyring nests the target, linked before the restriction
        // would refuse the link.
        sys::link(*loc.serial, scratch.get(), "nesting " + label(loc) + " in a scratch keyring");
    }
    if (rule.kind != Restriction::Kind::None && rule.kind != Restriction::Kind::Unknown) {
        if (int err = sys::try_restrict(scratch.get(), rule)) {
            throw kernel_error(err, "restricting a scratch keyring to " + rule.to_string(),
                               KernelCall::Other);
        }
    }
    result.measured.push_back("X.509 parse and algorithms (the kernel's parser)");
    result.measured.push_back("kernel blacklist (.blacklist)");
    result.measured.push_back(restriction_measurement(rule));

    std::int64_t rc = sys::add_key("asymmetric", nullptr, der, scratch.get());
    if (rc > 0) {
        result.accepted = true;
        result.parsed = true;
        return result;  // the scratch keyring, and the key in it, go here
    }
    refuse(static_cast<int>(-rc));

    // The parser and the restriction answer with the same errnos (a bad
    // signature is EKEYREJECTED in both), yet a predicted kernel rule comes
    // between them: ask an unrestricted scratch keyring which one refused.
    const bool rule_predicted = std::any_of(
        result.predicted.begin(), result.predicted.end(),
        [](const std::string& p) { return p == "kernel.digsig" || p == "kernel.ca-enforcement"; });
    if (rule_predicted && rule.kind != Restriction::Kind::None &&
        rule.kind != Restriction::Kind::Unknown) {
        OwnedKeyring parse_only(
            sys::new_keyring(std::string(kTrialKeyringName), sys::kProcessKeyring),
            sys::kProcessKeyring);
        sys::set_permissions(parse_only.get(), kScratchPermissions, "preparing a scratch keyring");
        result.parsed = sys::add_key("asymmetric", nullptr, der, parse_only.get()) > 0;
        result.measured.push_back(result.parsed
                                      ? "the parser took it: the keyring's rules refused it"
                                      : "the parser refused it, before any keyring rule");
    }
    return result;
}

std::set<Sha256> Keyrings::blacklist_entries(std::string_view prefix) const {
    std::set<Sha256> out;
    if (!blacklist_) return out;
    std::vector<KeyEntry> entries;
    try {
        entries = list_serial(*blacklist_);
    } catch (const KernelError&) {
        return out;
    }
    for (const auto& e : entries) {
        if (e.type != "blacklist" && e.type != "user") continue;
        std::string_view d = e.description;
        if (!d.starts_with(prefix)) continue;
        if (auto h = Sha256::parse(d.substr(prefix.size()))) out.insert(*h);
    }
    return out;
}

std::set<Sha256> Keyrings::blacklist_tbs() const {
    return blacklist_entries("tbs:");
}
std::set<Sha256> Keyrings::blacklist_bin() const {
    return blacklist_entries("bin:");
}

KeySerial Keyrings::add_blacklist_entry(std::string_view kind, const Sha256& hash) {
    if (!sandbox_ || !blacklist_) {
        throw Error(ErrorCode::AccessDenied,
                    "the kernel's .blacklist takes only entries signed by a trusted key "
                    "(PKCS#7); anchord adds blacklist entries only in its sandbox");
    }
    if (kind != "tbs" && kind != "bin") {
        throw Error(ErrorCode::InvalidArgument,
                    "blacklist entry kind \"" + std::string(kind) + "\" is neither tbs nor bin");
    }
    std::string description = std::string(kind) + ":" + hash.hex();
    std::int64_t rc = sys::add_key("user", description.c_str(), hash.bytes, *blacklist_);
    if (rc < 0) {
        throw kernel_error(static_cast<int>(-rc), "adding " + description + " to anchord:blacklist",
                           KernelCall::Other);
    }
    return KeySerial{static_cast<std::int32_t>(rc)};
}

}  // namespace anchord::keyring
