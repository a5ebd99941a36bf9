// The errno to error-code mapping and the symbolic names.
#include <gtest/gtest.h>

#include <cerrno>

#include "keyring/keyring.hpp"

namespace anchord::keyring {
namespace {

TEST(KeyringErrors, NamesAreTheSymbolicOnes) {
    EXPECT_EQ(errno_name(ENOKEY), "ENOKEY");
    EXPECT_EQ(errno_name(EKEYREJECTED), "EKEYREJECTED");
    EXPECT_EQ(errno_name(EBADMSG), "EBADMSG");
    EXPECT_EQ(errno_name(ENOPKG), "ENOPKG");
    EXPECT_EQ(errno_name(ENOENT), "ENOENT");
    EXPECT_EQ(errno_name(EINVAL), "EINVAL");
    EXPECT_EQ(errno_name(EACCES), "EACCES");
    EXPECT_EQ(errno_name(EDQUOT), "EDQUOT");
    EXPECT_EQ(errno_name(99999), "errno 99999");
}

TEST(KeyringErrors, LinkVerdictsAreKernelRejections) {
    for (int err : {ENOKEY, EKEYREJECTED, EBADMSG, ENOPKG, ENOENT, EINVAL, EDQUOT}) {
        KernelError e = kernel_error(err, "linking a test certificate into .ima");
        EXPECT_EQ(e.code(), ErrorCode::KernelRejected) << errno_name(err);
        EXPECT_EQ(e.error_number(), err);
        EXPECT_FALSE(explain_errno(err).empty());
    }
}

TEST(KeyringErrors, PermissionAndSealAreTold) {
    // A link refused by the keyring's permissions, and one refused by a seal.
    EXPECT_EQ(kernel_error(EACCES, "x").code(), ErrorCode::AccessDenied);
    EXPECT_EQ(kernel_error(EPERM, "x").code(), ErrorCode::Sealed);
    // Restricting or re-permissioning a keyring the caller may not change.
    EXPECT_EQ(kernel_error(EACCES, "x", KernelCall::Other).code(), ErrorCode::AccessDenied);
    EXPECT_EQ(kernel_error(EPERM, "x", KernelCall::Other).code(), ErrorCode::AccessDenied);
}

TEST(KeyringErrors, OtherCallsReportMissingKeysAsNotFound) {
    EXPECT_EQ(kernel_error(ENOENT, "unlinking", KernelCall::Other).code(), ErrorCode::NotFound);
    EXPECT_EQ(kernel_error(ENOKEY, "describing", KernelCall::Other).code(), ErrorCode::NotFound);
    EXPECT_EQ(kernel_error(EKEYREVOKED, "reading", KernelCall::Other).code(), ErrorCode::NotFound);
    EXPECT_EQ(kernel_error(EINVAL, "restricting", KernelCall::Other).code(),
              ErrorCode::InvalidArgument);
}

TEST(KeyringErrors, UnexpectedErrnosAreInternalAndKeepTheirNumber) {
    KernelError e = kernel_error(ENOMEM, "adding");
    EXPECT_EQ(e.code(), ErrorCode::Internal);
    EXPECT_EQ(e.error_number(), ENOMEM);
    EXPECT_EQ(kernel_error(EIO, "adding").code(), ErrorCode::Internal);
}

TEST(KeyringErrors, RestrictionNamesAreTheKernelsSpelling) {
    using Kind = Restriction::Kind;
    EXPECT_EQ(Restriction(Kind::BuiltinTrusted).to_string(), "builtin_trusted");
    EXPECT_EQ(Restriction(Kind::BuiltinAndSecondaryTrusted).to_string(),
              "builtin_and_secondary_trusted");
    EXPECT_EQ(Restriction(Kind::KeyOrKeyring, KeySerial{123}).to_string(), "key_or_keyring:123");
    Restriction chained(Kind::KeyOrKeyring, KeySerial{123});
    chained.chain = true;
    EXPECT_EQ(chained.to_string(), "key_or_keyring:123:chain");
    EXPECT_EQ(Restriction(Kind::Sealed).to_string(), "sealed");
    EXPECT_EQ(Restriction(Kind::None).to_string(), "none");
}

}  // namespace
}  // namespace anchord::keyring
