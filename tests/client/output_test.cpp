// anchorctl's pieces without a bus: the result types and their JSON form,
// the tables and verdicts a person reads, colour, error mapping, and how
// FILE arguments become bundles.
#include "output.hpp"

#include <gtest/gtest.h>
#include <pty.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "bus.hpp"
#include "files.hpp"
#include "json_schema.hpp"
#include "model.hpp"
#include "test_pki.hpp"

namespace anchorctl::testing {
namespace {

using anchord::Outcome;

DbusCertificateResult dbus_result(std::vector<DbusCheck> checks, bool accepted = false,
                                  std::int32_t serial = 0) {
    return DbusCertificateResult(
        std::uint32_t{2}, std::string("sha256:" + std::string(64, 'c')), accepted, serial,
        std::move(checks),
        DbusKernelAnswer(false, std::string("ENOKEY"), std::string("no trusted key signed it")),
        std::string(""));
}

CertificateResult sample_result() {
    return from_dbus(dbus_result({DbusCheck("keyring.known", "pass", "known"),
                                  DbusCheck("validity.not-expired", "warn", "expires soon"),
                                  DbusCheck("chain.issuer-found", "fail", "no issuer"),
                                  DbusCheck("ca.enforcement", "skip", "none"),
                                  DbusCheck("chain.anchor", "fail", "no anchor")}));
}

// Sets or clears an environment variable for one test.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value) {
            ::setenv(name, value, 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~ScopedEnv() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }

  private:
    const char* name_;
    std::optional<std::string> old_;
};

TEST(Model, FromDbusTurnsEmptyIntoAbsent) {
    const auto r = from_dbus(DbusCertificateResult(
        std::uint32_t{0}, std::string(""), false, 0, std::vector<DbusCheck>{},
        DbusKernelAnswer(true, std::string(""), std::string("")), std::string("")));
    EXPECT_FALSE(r.fingerprint);
    EXPECT_FALSE(r.serial);
    EXPECT_FALSE(r.kernel.error);
    EXPECT_FALSE(r.belongs_in);
    const auto json = to_json(r);
    EXPECT_TRUE(json["fingerprint"].is_null());
    EXPECT_TRUE(json["serial"].is_null());
    EXPECT_TRUE(json["kernel"]["error"].is_null());
    EXPECT_TRUE(json["belongs_in"].is_null());
}

TEST(Model, FromDbusKeepsEveryField) {
    auto bus = dbus_result({DbusCheck("chain.signature", "pass", "verified")}, true, 1234);
    bus.get<6>() = "platform";
    const auto r = from_dbus(bus);
    EXPECT_EQ(r.index, 2u);
    EXPECT_EQ(r.fingerprint, "sha256:" + std::string(64, 'c'));
    EXPECT_TRUE(r.accepted);
    EXPECT_EQ(r.serial, 1234);
    ASSERT_EQ(r.checks.size(), 1u);
    EXPECT_EQ(r.checks[0].id, "chain.signature");
    EXPECT_EQ(r.checks[0].outcome, Outcome::Pass);
    EXPECT_EQ(r.kernel.error, "ENOKEY");
    EXPECT_EQ(r.belongs_in, "platform");
}

TEST(Model, UnknownOutcomeIsABadReply) {
    try {
        from_dbus(dbus_result({DbusCheck("x.y", "maybe", "")}));
        FAIL() << "no Failure thrown";
    } catch (const Failure& f) {
        EXPECT_EQ(f.name(), client_error::bad_reply);
        EXPECT_EQ(f.exit_status(), anchord::exit_status::failed);
    }
}

TEST(Model, ResultJsonConformsToTheSchemaPage) {
    auto r = sample_result();
    r.file = "leaf.pem";
    const auto json = nlohmann::json::parse(to_json(r).dump());
    const auto problems = SchemaPage::load().violations(
        {{"keyring", "ima"}, {"accepted", false}, {"results", {json}}}, "verify");
    EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
    EXPECT_EQ(json["checks"].size(), 5u);
    EXPECT_EQ(json["checks"][2]["outcome"], "fail");  // JSON keeps the order the checks ran
}

TEST(Model, SchemaCatchesAMissingField) {
    auto json = nlohmann::json::parse(to_json(sample_result()).dump());
    json.erase("kernel");
    const auto problems = SchemaPage::load().violations(
        {{"keyring", "ima"}, {"accepted", false}, {"results", {json}}}, "verify");
    EXPECT_FALSE(problems.empty());
}

TEST(Model, KeyringAndStatusJsonConformToTheSchemaPage) {
    KeyringInfo ima{"ima",
                    "_ima",
                    42,
                    true,
                    true,
                    false,
                    "signing",
                    {{7, "signer: 01ab", "sha256:" + std::string(64, 'd'), "anchord"},
                     {8, "unknown", std::nullopt, "foreign"}}};
    const auto list = nlohmann::json::parse(Json{{"keyrings", {to_json(ima, true)}}}.dump());
    EXPECT_TRUE(SchemaPage::load().violations(list, "list").empty())
        << ::testing::PrintToString(SchemaPage::load().violations(list, "list"));
    EXPECT_TRUE(list["keyrings"][0]["keys"][1]["fingerprint"].is_null());

    ManagerInfo m{"0.1.0",
                  "system",
                  "sha256:" + std::string(64, 'e'),
                  false,
                  1'700'000'000'000'000,
                  {{"ima", "sha256:" + std::string(64, 'f'), "foreign", "linked by someone"}},
                  {{"/etc/anchord/anchors.d/ima/a.der", "ima", "refused", "expired"}}};
    Json status = to_json(m);
    status["keyrings"] = {to_json(ima, false)};
    const auto parsed = nlohmann::json::parse(status.dump());
    EXPECT_TRUE(SchemaPage::load().violations(parsed, "status").empty())
        << ::testing::PrintToString(SchemaPage::load().violations(parsed, "status"));
    EXPECT_EQ(parsed["last_reconcile"], "2023-11-14T22:13:20Z");
}

TEST(Model, TimestampZeroIsNever) {
    EXPECT_FALSE(format_timestamp_usec(0));
    EXPECT_EQ(format_timestamp_usec(1'000'000), "1970-01-01T00:00:01Z");
}

TEST(Output, FailedChecksComeFirstThenWarningsInTheOrderTheyRan) {
    const auto ordered = display_order(sample_result().checks);
    std::vector<std::string> ids;
    for (const auto& c : ordered) ids.push_back(c.id);
    EXPECT_EQ(
        ids, (std::vector<std::string>{"chain.issuer-found", "chain.anchor", "validity.not-expired",
                                       "keyring.known", "ca.enforcement"}));
}

TEST(Output, VerdictShowsEveryCheckFailedFirst) {
    std::ostringstream out;
    print_result(out, sample_result(), Painter(false));
    const std::string text = out.str();
    EXPECT_NE(text.find("REFUSED"), std::string::npos);
    EXPECT_NE(text.find("ENOKEY"), std::string::npos);
    const auto first_fail = text.find("FAIL  chain.issuer-found");
    const auto second_fail = text.find("FAIL  chain.anchor");
    const auto warn = text.find("warn  validity.not-expired");
    const auto pass = text.find("pass  keyring.known");
    const auto skip = text.find("skip  ca.enforcement");
    ASSERT_NE(first_fail, std::string::npos) << text;
    ASSERT_NE(second_fail, std::string::npos) << text;
    ASSERT_NE(skip, std::string::npos) << text;
    EXPECT_LT(first_fail, second_fail);
    EXPECT_LT(second_fail, warn);
    EXPECT_LT(warn, pass);
    EXPECT_LT(pass, skip);
}

TEST(Output, NoEscapeCodesWithoutColour) {
    std::ostringstream plain, coloured;
    print_result(plain, sample_result(), Painter(false));
    print_result(coloured, sample_result(), Painter(true));
    EXPECT_EQ(plain.str().find('\033'), std::string::npos);
    EXPECT_NE(coloured.str().find("\033[31m"), std::string::npos);  // red for the failures
}

TEST(Output, TableAlignsColumnsByCharactersNotBytes) {
    Table table({"A", "B"});
    table.add_row({{"één"}, {"x"}});  // 3 characters, 5 bytes
    table.add_row({{"abcd"}, {"y"}});
    std::ostringstream out;
    table.render(out, Painter(true));
    // Colour codes do not count towards the width either.
    std::ostringstream plain;
    table.render(plain, Painter(false));
    EXPECT_EQ(plain.str(), "A     B\néén   x\nabcd  y\n");
}

TEST(Output, ColourOnlyOnATerminalWithoutNoColorAndNotForJson) {
    int master = -1, slave = -1;
    ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    {
        ScopedEnv no_color("NO_COLOR", nullptr);
        ScopedEnv term("TERM", "xterm");
        EXPECT_TRUE(colour_wanted(false, slave));
        EXPECT_FALSE(colour_wanted(true, slave));
        EXPECT_FALSE(colour_wanted(false, pipe_fds[1]));
    }
    {
        ScopedEnv no_color("NO_COLOR", "1");
        EXPECT_FALSE(colour_wanted(false, slave));
    }
    {
        ScopedEnv no_color("NO_COLOR", "");  // set, even empty
        EXPECT_FALSE(colour_wanted(false, slave));
    }
    {
        ScopedEnv no_color("NO_COLOR", nullptr);
        ScopedEnv term("TERM", "dumb");
        EXPECT_FALSE(colour_wanted(false, slave));
    }
    ::close(master);
    ::close(slave);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
}

TEST(Output, ErrorJsonConformsToTheSchemaPage) {
    const Failure f(anchord::exit_status::unreachable, "org.freedesktop.DBus.Error.ServiceUnknown",
                    "nobody there");
    const auto document = nlohmann::json::parse(Json{{"error", error_json(f)}}.dump());
    EXPECT_TRUE(SchemaPage::load().violations(document, "error").empty());
    EXPECT_EQ(document["error"]["exit_status"], 3);
}

TEST(ErrorMapping, DbusNamesToExitStatus) {
    const BusOptions bus;
    const std::vector<std::pair<std::string, int>> cases{
        {"org.freedesktop.DBus.Error.ServiceUnknown", 3},
        {"org.freedesktop.DBus.Error.NameHasNoOwner", 3},
        {"org.freedesktop.DBus.Error.NoServer", 3},
        {"org.freedesktop.DBus.Error.NoReply", 3},
        {"org.freedesktop.DBus.Error.AccessDenied", 4},
        {"io.github.anchord1.Error.AccessDenied", 4},
        {"io.github.anchord1.Error.PolicyRejected", 1},
        {"io.github.anchord1.Error.KernelRejected", 1},
        {"io.github.anchord1.Error.Sealed", 1},
        {"io.github.anchord1.Error.NotFound", 1},
        {"io.github.anchord1.Error.InvalidArgument", 2},
        {"org.freedesktop.DBus.Error.Failed", 1},
    };
    for (const auto& [name, status] : cases) {
        const auto f = failure_from_dbus(name, "m", bus);
        EXPECT_EQ(f.exit_status(), status) << name;
        EXPECT_EQ(f.name(), name);
    }
    EXPECT_EQ(failure_from_dbus("io.github.anchord1.Error.Sealed", "m", bus).code(),
              anchord::ErrorCode::Sealed);
}

TEST(ErrorMapping, UnreachableMessageSaysHowToStartAnchordOnThatBus) {
    const std::string name = "org.freedesktop.DBus.Error.ServiceUnknown";
    EXPECT_NE(std::string(failure_from_dbus(name, "m", {}).what()).find("systemctl start anchord"),
              std::string::npos);
    EXPECT_NE(
        std::string(failure_from_dbus(name, "m", {true, ""}).what()).find("anchord --session"),
        std::string::npos);
    EXPECT_NE(std::string(failure_from_dbus(name, "m", {false, "unix:path=/x"}).what())
                  .find("anchord --bus-address unix:path=/x"),
              std::string::npos);
}

InputFile file_of(std::string name, const std::string& text) {
    return {std::move(name), anchord::Bytes(text.begin(), text.end())};
}

TEST(Files, PemIsRecognisedAfterBlanks) {
    const std::string pem = "\n  -----BEGIN CERTIFICATE-----\n";
    EXPECT_TRUE(looks_like_pem(anchord::Bytes(pem.begin(), pem.end())));
    const auto der = anchord::testing::make_self_signed(anchord::testing::signing_spec("x")).der;
    EXPECT_FALSE(looks_like_pem(der));
    EXPECT_FALSE(looks_like_pem(anchord::Bytes{}));
}

TEST(Files, AllPemFilesBecomeOneBundle) {
    const auto a = anchord::testing::make_self_signed(anchord::testing::signing_spec("a")).pem();
    const auto b = anchord::testing::make_self_signed(anchord::testing::signing_spec("b")).pem();
    const auto bundles = make_bundles({file_of("a.pem", a + a), file_of("b.pem", b)});
    ASSERT_EQ(bundles.size(), 1u);
    EXPECT_EQ(bundles[0].files, (std::vector<std::string>{"a.pem", "b.pem"}));
    EXPECT_EQ(bundles[0].certificates_per_file, (std::vector<std::size_t>{2, 1}));
}

TEST(Files, AnyDerFileMakesOneCallPerFile) {
    const auto cert = anchord::testing::make_self_signed(anchord::testing::signing_spec("a"));
    const std::string der(cert.der.begin(), cert.der.end());
    const auto bundles = make_bundles({file_of("a.pem", cert.pem()), file_of("b.der", der)});
    ASSERT_EQ(bundles.size(), 2u);
    EXPECT_EQ(bundles[0].files, std::vector<std::string>{"a.pem"});
    EXPECT_EQ(bundles[1].bytes, cert.der);
}

TEST(Files, AttributeNumbersOnAndNamesTheFiles) {
    Bundle joined{{}, {"a.pem", "b.pem", "c.pem"}, {2, 0, 1}};
    std::vector<CertificateResult> results(3);
    results[0].index = 2;  // anchord's order is restored by index
    results[1].index = 0;
    results[2].index = 1;
    attribute(results, joined, 5);
    EXPECT_EQ(results[0].index, 5u);
    EXPECT_EQ(results[1].index, 6u);
    EXPECT_EQ(results[2].index, 7u);
    EXPECT_EQ(results[0].file, "a.pem");
    EXPECT_EQ(results[1].file, "a.pem");
    EXPECT_EQ(results[2].file, "c.pem");
}

TEST(Files, AttributeNamesNoFileWhenTheCountsDisagree) {
    Bundle joined{{}, {"a.pem", "b.pem"}, {1, 1}};
    std::vector<CertificateResult> results(3);
    attribute(results, joined, 0);
    for (const auto& r : results) EXPECT_FALSE(r.file);
}

TEST(Files, ReadInputsNamesTheMissingFile) {
    std::istringstream in;
    try {
        read_inputs({"/nonexistent/anchorctl-test.pem"}, in);
        FAIL() << "no Failure thrown";
    } catch (const Failure& f) {
        EXPECT_EQ(f.name(), client_error::file);
        EXPECT_EQ(f.exit_status(), anchord::exit_status::failed);
        EXPECT_NE(std::string(f.what()).find("/nonexistent/anchorctl-test.pem"), std::string::npos);
    }
}

TEST(Files, StandardInputIsReadOnce) {
    std::istringstream in("bytes");
    const auto inputs = read_inputs({"-"}, in);
    ASSERT_EQ(inputs.size(), 1u);
    EXPECT_EQ(inputs[0].bytes, (anchord::Bytes{'b', 'y', 't', 'e', 's'}));
    try {
        read_inputs({"-", "-"}, in);
        FAIL() << "no Failure thrown";
    } catch (const Failure& f) {
        EXPECT_EQ(f.exit_status(), anchord::exit_status::usage);
    }
}

}  // namespace
}  // namespace anchorctl::testing
