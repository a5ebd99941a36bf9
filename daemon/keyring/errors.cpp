// The kernel's errnos, told to a person: what each means when the keyring
// code answers a link, measured on this project's kernels (see
// /work/shared/KERNEL-FACTS.md), and what to do about it.
#include <cerrno>
#include <cstring>
#include <string>

#include "keyring/keyring.hpp"

namespace anchord::keyring {

std::string errno_name(int err) {
    // strerrorname_np (glibc 2.32+) knows every errno; the fallback keeps an
    // unknown number readable rather than empty.
    if (const char* name = ::strerrorname_np(err)) return name;
    return "errno " + std::to_string(err);
}

std::string explain_errno(int err) {
    switch (err) {
        case ENOKEY:
            return "no key in the keyrings this keyring trusts signed it: enroll the issuer first "
                   "(an intermediate goes into the secondary keyring) or use a certificate "
                   "signed by a trusted key";
        case EKEYREJECTED:
            return "the kernel refused the signature or the key: the certificate's signature "
                   "does not verify with its issuer's key (forged or tampered), or its hash is "
                   "in the kernel's .blacklist";
        case EBADMSG:
            // A tampered RSA signature gets this answer too, now and then: the
            // kernel reports a recovered block with the wrong padding as
            // EBADMSG when it happens to start with the zero byte (EINVAL
            // otherwise).
            return "the kernel could not parse it as an X.509 certificate (give DER, not PEM, "
                   "one certificate, not truncated), or its RSA signature does not decode to a "
                   "well-formed block (a tampered signature)";
        case ENOPKG:
            return "the kernel lacks the public key or signature algorithm it uses (RSA-PSS, "
                   "Ed25519, secp256k1, brainpool, DSA or MD5 are not verifiable here): use an "
                   "RSA (PKCS#1 v1.5) or a supported ECDSA certificate";
        case ENOENT:
            return "the kernel cannot verify the issuer's signature scheme (no verifier "
                   "registered for it, e.g. ECDSA on a kernel without CONFIG_CRYPTO_ECDSA), or "
                   "the keyring is gone: use an issuer whose algorithm /proc/crypto lists";
        case EINVAL:
            return "the kernel found the input or its signature malformed (empty input, a "
                   "signature of the wrong size or with broken padding)";
        case EACCES:
            return "permission denied: the keyring does not accept links from this caller (the "
                   "kernel's builtin, machine and platform keyrings take none from userspace; a "
                   "keyring sealed by its permissions takes none from anyone, root included; "
                   "another keyring may lack write permission for this user)";
        case EPERM:
            return "the keyring is sealed: it refuses every further link (measured: a keyring "
                   "restricted with no rule answers EPERM)";
        case EDQUOT:
            return "the key quota is exhausted: remove keys or raise "
                   "/proc/sys/kernel/keys/root_maxkeys and root_maxbytes";
        case EOPNOTSUPP:
            return "the keyring does not take keys of this type (.blacklist takes only "
                   "blacklist hashes)";
        case EKEYREVOKED:
        case EKEYEXPIRED:
            return "the key or keyring has been revoked or has expired";
        case ENOTDIR:
            return "the target is not a keyring";
        case EEXIST:
            return "the keyring already carries a restriction; the kernel keeps only one";
        case EDEADLK:
            return "the restriction would make the keyring depend on itself";
        case ENOMEM:
            return "the kernel is out of memory";
        default:
            return std::strerror(err);
    }
}

namespace {

// A link's errno is a verdict on the certificate.
ErrorCode link_code(int err) {
    switch (err) {
        case ENOKEY:
        case EKEYREJECTED:
        case EBADMSG:
        case ENOPKG:
        case ENOENT:
        case EINVAL:
        case EDQUOT:
        case EOPNOTSUPP:
            return ErrorCode::KernelRejected;
        case EACCES:
            return ErrorCode::AccessDenied;
        case EPERM:
            return ErrorCode::Sealed;
        case EKEYREVOKED:
        case EKEYEXPIRED:
            return ErrorCode::NotFound;  // the target keyring went away
        default:
            return ErrorCode::Internal;
    }
}

// Any other call's errno is about the key or keyring it names.
ErrorCode other_code(int err) {
    switch (err) {
        case ENOKEY:
        case ENOENT:
        case EKEYREVOKED:
        case EKEYEXPIRED:
            return ErrorCode::NotFound;
        case EINVAL:
        case ENOTDIR:
            return ErrorCode::InvalidArgument;
        case EACCES:
        case EPERM:
            return ErrorCode::AccessDenied;
        default:
            return ErrorCode::Internal;
    }
}

std::string other_meaning(int err) {
    switch (err) {
        case ENOKEY:
            return "no such key or keyring (it may have been removed)";
        case ENOENT:
            return "the key is not linked there, or the keyring is gone";
        case EINVAL:
            return "the kernel refused the arguments as invalid";
        case EACCES:
        case EPERM:
            return "permission denied: the caller may not change this key or keyring (root "
                   "cannot restrict or re-permission a keyring the kernel made)";
        default:
            return explain_errno(err);
    }
}

}  // namespace

KernelError kernel_error(int err, const std::string& context, KernelCall call) {
    bool link = call == KernelCall::Link;
    ErrorCode code = link ? link_code(err) : other_code(err);
    std::string meaning = link ? explain_errno(err) : other_meaning(err);
    return KernelError(code, err, context + ": " + errno_name(err) + ": " + meaning);
}

}  // namespace anchord::keyring
