// Reading /proc/keys and describe strings, on lines as this kernel prints them.
#include <gtest/gtest.h>

#include "keyring/keyctl.hpp"

namespace anchord::keyring::sys {
namespace {

constexpr const char* kProcKeys =
    "0f558880 I------     1 perm 1f0b0000     0     0 keyring   .builtin_trusted_keys: empty\n"
    "2b3edffd I------     1 perm 0f0b0000     0     0 keyring   .blacklist: 2\n"
    "0a653da7 I--Q---     2 perm 3f010000  1000  1000 keyring   _ima: 4\n"
    "0a653da8 I--Q---     2 perm 3f010000     0     0 keyring   _ima: 1\n"
    "2fc60c31 I--Q---     1 perm 39010000     0     0 asymmetri exp leaf: "
    "ac539442b6a04d647c75b599cba59bd63b42fcc0: X509.rsa 3b42fcc0 []\n"
    "3d40711e I--Q---     1 perm 39010000     0     0 asymmetri no skid: 0123abcd: X509.rsa []\n"
    "garbage line\n";

TEST(ProcKeys, ParsesEveryWellFormedLine) {
    auto keys = parse_proc_keys(kProcKeys);
    ASSERT_EQ(keys.size(), 6u);
    EXPECT_EQ(keys[0].serial, KeySerial{0x0f558880});
    EXPECT_EQ(keys[0].type, "keyring");
    EXPECT_EQ(keys[0].permissions, 0x1f0b0000u);
    EXPECT_EQ(keys[0].rest, ".builtin_trusted_keys: empty");
    EXPECT_EQ(keys[2].uid, 1000u);
    EXPECT_EQ(keys[4].type, "asymmetri");  // the kernel cuts the column to 9
}

TEST(ProcKeys, FindsKeyringsByNameAndOwner) {
    auto keys = parse_proc_keys(kProcKeys);
    EXPECT_EQ(find_keyring(keys, ".builtin_trusted_keys"), KeySerial{0x0f558880});
    EXPECT_EQ(find_keyring(keys, ".blacklist"), KeySerial{0x2b3edffd});
    EXPECT_EQ(find_keyring(keys, "_ima"), KeySerial{0x0a653da8});  // root's, not uid 1000's
    EXPECT_EQ(find_keyring(keys, "_ima", 1000), KeySerial{0x0a653da7});
    EXPECT_FALSE(find_keyring(keys, ".ima").has_value());
    EXPECT_FALSE(find_keyring(keys, ".builtin").has_value());
}

TEST(ProcKeys, SubjectKeyIdOnlyWhenTheKernelShowsOne) {
    auto skid = subject_key_id("exp leaf: ac539442b6a04d647c75b599cba59bd63b42fcc0",
                               "exp leaf: ac539442b6a04d647c75b599cba59bd63b42fcc0: "
                               "X509.rsa 3b42fcc0 []");
    ASSERT_TRUE(skid.has_value());
    EXPECT_EQ(to_hex(*skid), "ac539442b6a04d647c75b599cba59bd63b42fcc0");
    // No SKID: the description ends with the serial and the summary has no id.
    EXPECT_FALSE(subject_key_id("no skid: 0123abcd", "no skid: 0123abcd: X509.rsa []"));
    // Without /proc/keys the trailing hex is taken as the SKID.
    EXPECT_TRUE(subject_key_id("a: 00ff", "").has_value());
    EXPECT_FALSE(subject_key_id("no hex here", "").has_value());
}

TEST(Describe, SplitsTheFirstFourFieldsOnly) {
    auto d = parse_description("asymmetric;0;0;39010000;CN;with;semicolons: 00ff");
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->type, "asymmetric");
    EXPECT_EQ(d->permissions, 0x39010000u);
    EXPECT_EQ(d->description, "CN;with;semicolons: 00ff");
    EXPECT_FALSE(parse_description("nonsense").has_value());
    EXPECT_FALSE(parse_description("keyring;x;0;0;name").has_value());
}

}  // namespace
}  // namespace anchord::keyring::sys
