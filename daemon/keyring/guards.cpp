// RAII for the keyrings and links anchord makes.
#include <keyutils.h>

#include <utility>

#include "keyring/keyring.hpp"

namespace anchord::keyring {

std::string Restriction::to_string() const {
    switch (kind) {
        case Kind::None:
            return "none";
        case Kind::Sealed:
            return "sealed";
        case Kind::BuiltinTrusted:
            return "builtin_trusted";
        case Kind::BuiltinAndSecondaryTrusted:
            return "builtin_and_secondary_trusted";
        case Kind::KeyOrKeyring:
            return "key_or_keyring:" + std::to_string(key ? key->value : 0) +
                   (chain ? ":chain" : "");
        case Kind::Unknown:
            break;
    }
    return "unknown";
}

OwnedKeyring::OwnedKeyring(OwnedKeyring&& other) noexcept
    : keyring_(std::exchange(other.keyring_, {})), parent_(other.parent_) {}

OwnedKeyring& OwnedKeyring::operator=(OwnedKeyring&& other) noexcept {
    if (this != &other) {
        reset();
        keyring_ = std::exchange(other.keyring_, {});
        parent_ = other.parent_;
    }
    return *this;
}

KeySerial OwnedKeyring::release() noexcept {
    return std::exchange(keyring_, {});
}

void OwnedKeyring::reset() noexcept {
    KeySerial ring = std::exchange(keyring_, {});
    if (ring.value == 0) return;
    // Clear it first, while we still possess it: the kernel's collector
    // never prunes the links of an invalidated keyring, so a keyring that
    // links another whose restriction points back at it would otherwise
    // keep both alive until reboot. Then unlink, so the parent stops listing it at once (an
    // invalidated key stays listed until the collector runs), and
    // invalidate, so the kernel drops it now even where it is linked
    // elsewhere. Once unlinked we may no longer possess it: invalidation
    // then needs the user search permission, which anchord gives every
    // keyring it makes. Failures mean it is gone already.
    keyctl_clear(ring.value);
    keyctl_unlink(ring.value, parent_.value);
    keyctl_invalidate(ring.value);
}

LinkGuard::LinkGuard(LinkGuard&& other) noexcept
    : key_(std::exchange(other.key_, {})), ring_(other.ring_) {}

LinkGuard& LinkGuard::operator=(LinkGuard&& other) noexcept {
    if (this != &other) {
        rollback();
        key_ = std::exchange(other.key_, {});
        ring_ = other.ring_;
    }
    return *this;
}

void LinkGuard::rollback() noexcept {
    KeySerial key = std::exchange(key_, {});
    if (key.value != 0) keyctl_unlink(key.value, ring_.value);
}

}  // namespace anchord::keyring
