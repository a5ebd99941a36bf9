// The bus and polkit files of systemd/ as a system bus applies them (issue
// 8): anchord's bus policy (io.github.anchord1.conf) on top of the
// distribution's own system bus policy, which denies owning names and
// calling methods unless a service's file punches a hole; and the polkit
// actions file against the actions the daemon asks polkit about.
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "anchord_harness.hpp"
#include "auth/authorizer.hpp"

namespace anchord::testing {
namespace {

constexpr const char* kSystemBusConf = "/usr/share/dbus-1/system.conf";
constexpr const char* kBusAccessDenied = "org.freedesktop.DBus.Error.AccessDenied";

fs::path systemd_dir() {
    return fs::path(ANCHORD_SOURCE_DIR) / "systemd";
}

std::string without_xml_comments(const std::string& text) {
    return std::regex_replace(text, std::regex("<!--[\\s\\S]*?-->"), "");
}

// The <policy> elements of the distribution's system bus configuration, then
// anchord's bus policy file included as the bus includes system.d files.
// Throws when the distribution's file is missing or no longer denies by
// default: the test would then prove nothing about our holes.
std::string system_bus_policy() {
    const std::string text = without_xml_comments(read_text(kSystemBusConf));
    std::string policies;
    const std::regex policy("<policy[\\s>][\\s\\S]*?</policy>");
    for (std::sregex_iterator it(text.begin(), text.end(), policy), end; it != end; ++it) {
        policies += it->str() + "\n";
    }
    for (const char* rule : {"<deny own=\"*\"/>", "<deny send_type=\"method_call\"/>"}) {
        if (policies.find(rule) == std::string::npos) {
            throw std::runtime_error(std::string(kSystemBusConf) + " has no " + rule +
                                     " in its policies");
        }
    }
    return policies + "<include>" + (systemd_dir() / "io.github.anchord1.conf").string() +
           "</include>\n";
}

// What each call made as another uid answered: label -> "ok" or the error
// name. Lines "label result" come from the caller process.
using CallResults = std::map<std::string, std::string>;

CallResults parse_results(const std::string& output) {
    CallResults out;
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
        auto space = line.rfind(' ');
        if (space != std::string::npos) out[line.substr(0, space)] = line.substr(space + 1);
    }
    return out;
}

// Runs `calls` as nobody in a process of its own, on a connection of its own
// to `address`; each call is recorded under its label.
using Recorder = std::function<void(const std::string&, const std::function<void()>&)>;

CallResults as_nobody(const std::string& address,
                      const std::function<void(sdbus::IConnection&, const Recorder&)>& calls) {
    auto outcomes = run_callers({[&](int fd) {
        if (!become_nobody()) return 10;
        auto bus = sdbus::createSessionBusConnectionWithAddress(address);
        std::string report;
        Recorder record = [&](const std::string& label, const std::function<void()>& call) {
            std::string result = "ok";
            try {
                call();
            } catch (const sdbus::Error& e) {
                result = e.getName();
            }
            report += label + " " + result + "\n";
        };
        calls(*bus, record);
        write_all(fd, report);
        return 0;
    }});
    EXPECT_EQ(outcomes.at(0).exit_code, 0) << "the caller running as nobody failed (10: setresuid)";
    return parse_results(outcomes.at(0).output);
}

class SystemBusPolicyTest : public AnchordTest {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root to run callers as nobody";
        AnchordTest::SetUp();
        if (HasFatalFailure()) return;
        // The harness's bus lets everybody do anything; this one is strict.
        std::string config;
        try {
            config = system_bus_policy();
        } catch (const std::exception& e) {
            FAIL() << e.what();
        }
        bus_ = std::make_unique<PrivateBus>(config);
    }
};

TEST_F(SystemBusPolicyTest, OnlyRootMayOwnTheName) {
    auto refused = as_nobody(bus_->address(), [](sdbus::IConnection& bus, const Recorder& record) {
        record("RequestName", [&] { bus.requestName(kBusName); });
    });
    EXPECT_EQ(refused["RequestName"], kBusAccessDenied);

    // Root may, and so anchord, running as root, owns it.
    auto root = sdbus::createSessionBusConnectionWithAddress(bus_->address());
    EXPECT_NO_THROW(root->requestName(kBusName));
    EXPECT_NO_THROW(root->releaseName(kBusName));
    root.reset();
    ASSERT_TRUE(start_daemon());
}

TEST_F(SystemBusPolicyTest, EveryUserMayReadPropertiesIntrospectAndCallTheReadMethods) {
    ASSERT_TRUE(start_daemon());
    const auto leaf = pki_.chain.leaf.der;
    const std::string ima_path = std::string(kKeyringPathPrefix) + "ima";
    auto results = as_nobody(bus_->address(), [&](sdbus::IConnection& bus, const Recorder& record) {
        auto manager = sdbus::createProxy(bus, kBusName, kManagerPath);
        auto ima = sdbus::createProxy(bus, kBusName, ima_path);
        std::string xml;
        record("Introspect manager", [&] {
            manager->callMethod("Introspect")
                .onInterface("org.freedesktop.DBus.Introspectable")
                .storeResultsTo(xml);
        });
        record("Introspect keyring", [&] {
            ima->callMethod("Introspect")
                .onInterface("org.freedesktop.DBus.Introspectable")
                .storeResultsTo(xml);
        });
        record("Ping",
               [&] { manager->callMethod("Ping").onInterface("org.freedesktop.DBus.Peer"); });
        record("Get Mode", [&] {
            if (manager->getProperty("Mode").onInterface(kManagerInterface).get<std::string>() !=
                "sandbox")
                throw sdbus::Error("test.WrongValue", "Mode is not sandbox");
        });
        record("GetAll Manager", [&] {
            std::map<std::string, sdbus::Variant> all;
            manager->callMethod("GetAll")
                .onInterface("org.freedesktop.DBus.Properties")
                .withArguments(std::string(kManagerInterface))
                .storeResultsTo(all);
            if (!all.contains("Compliant")) throw sdbus::Error("test.Missing", "no Compliant");
        });
        record("Get Keys", [&] {
            ima->getProperty("Keys").onInterface(kKeyringInterface).get<std::vector<BusKey>>();
        });
        record("GetManagedObjects", [&] {
            std::map<sdbus::ObjectPath,
                     std::map<std::string, std::map<std::string, sdbus::Variant>>>
                objects;
            manager->callMethod("GetManagedObjects")
                .onInterface("org.freedesktop.DBus.ObjectManager")
                .storeResultsTo(objects);
            if (objects.size() != kAllLogicalKeyrings.size())
                throw sdbus::Error("test.WrongValue", "not one object per keyring");
        });
        record("Verify", [&] {
            std::vector<BusResult> verified;
            manager->callMethod("Verify")
                .onInterface(kManagerInterface)
                .withArguments(leaf, std::string("ima"))
                .storeResultsTo(verified);
            if (verified.size() != 1) throw sdbus::Error("test.WrongValue", "not one result");
        });
        record("GetPolicy", [&] {
            std::string json, digest;
            manager->callMethod("GetPolicy")
                .onInterface(kManagerInterface)
                .storeResultsTo(json, digest);
        });
        // No property is writable, and the bus says so before anchord does:
        // the strict default policy is in force.
        record("Set Mode", [&] {
            manager->setProperty("Mode").onInterface(kManagerInterface).toValue(std::string("x"));
        });
    });
    for (const char* label :
         {"Introspect manager", "Introspect keyring", "Ping", "Get Mode", "GetAll Manager",
          "Get Keys", "GetManagedObjects", "Verify", "GetPolicy"}) {
        EXPECT_EQ(results[label], "ok") << label << " as nobody";
    }
    EXPECT_EQ(results["Set Mode"], kBusAccessDenied);
}

// The bus lets every mutating call through to anchord: the refusal is
// anchord's own error (it asks polkit, which is not on this bus, so it
// denies), never the bus's AccessDenied. Root's calls go through and work.
TEST_F(SystemBusPolicyTest, MutatingCallsReachAnchordWhichDecides) {
    ASSERT_TRUE(start_daemon());
    const auto& chain = pki_.chain;
    ASSERT_EQ(enroll(chain.intermediate.der, "secondary").size(), 1u);
    auto enrolled = enroll(chain.leaf.der, "ima");
    ASSERT_EQ(enrolled.size(), 1u);
    ASSERT_TRUE(accepted_of(enrolled[0]));

    const auto rogue = pki_.rogue.der;
    const auto leaf_fp = fp(chain.leaf);
    auto results = as_nobody(bus_->address(), [&](sdbus::IConnection& bus, const Recorder& record) {
        auto manager = sdbus::createProxy(bus, kBusName, kManagerPath);
        record("Enroll", [&] {
            std::vector<BusResult> r;
            manager->callMethod("Enroll")
                .onInterface(kManagerInterface)
                .withArguments(rogue, std::string("ima"), std::map<std::string, sdbus::Variant>{})
                .storeResultsTo(r);
        });
        record("Remove", [&] {
            manager->callMethod("Remove")
                .onInterface(kManagerInterface)
                .withArguments(leaf_fp, std::string("ima"));
        });
        record("Seal", [&] {
            manager->callMethod("Seal")
                .onInterface(kManagerInterface)
                .withArguments(std::string("evm"));
        });
        record("Reconcile",
               [&] { manager->callMethod("Reconcile").onInterface(kManagerInterface); });
        record("ReloadPolicy",
               [&] { manager->callMethod("ReloadPolicy").onInterface(kManagerInterface); });
    });
    const std::string anchord_denied = dbus_error_name(ErrorCode::AccessDenied);
    for (const char* method : {"Enroll", "Remove", "Seal", "Reconcile", "ReloadPolicy"}) {
        EXPECT_EQ(results[method], anchord_denied) << method << " as nobody";
    }
    EXPECT_EQ(fingerprints("ima"), std::set<std::string>{leaf_fp});
    EXPECT_FALSE(keyring_property<bool>("evm", "Sealed"));

    // Root, through the same bus policy.
    auto proxy = sdbus::createProxy(*connection_, kBusName, kManagerPath);
    EXPECT_NO_THROW(proxy->callMethod("Remove")
                        .onInterface(kManagerInterface)
                        .withArguments(leaf_fp, std::string("ima")));
    EXPECT_TRUE(fingerprints("ima").empty());
}

// --- the polkit actions ------------------------------------------------------------

// Every action the daemon asks polkit about is declared, asks an active
// local session for an administrator (kept for a while), and is refused to
// inactive and remote sessions; the file declares no other action.
TEST(PolkitActionsFile, DeclaresEveryDaemonActionWithAuthAdminKeepForActiveSessionsOnly) {
    const std::string text =
        without_xml_comments(read_text(systemd_dir() / "io.github.anchord1.policy"));
    ASSERT_FALSE(text.empty());
    std::map<std::string, std::string> actions;  // id -> body
    const std::regex action("<action\\s+id=\"([^\"]+)\"\\s*>([\\s\\S]*?)</action>");
    for (std::sregex_iterator it(text.begin(), text.end(), action), end; it != end; ++it) {
        actions[(*it)[1]] = (*it)[2];
    }
    auto setting = [](const std::string& body, const std::string& tag) {
        std::smatch m;
        std::regex re("<" + tag + ">\\s*([^<\\s]*)\\s*</" + tag + ">");
        return std::regex_search(body, m, re) ? m[1].str() : std::string("(missing)");
    };
    const auth::Action daemon_actions[] = {auth::Action::Enroll, auth::Action::Remove,
                                           auth::Action::Seal, auth::Action::Reconcile,
                                           auth::Action::ReloadPolicy};
    for (auto a : daemon_actions) {
        const std::string id(auth::action_id(a));
        ASSERT_TRUE(actions.contains(id)) << id << " is not declared";
        const auto& body = actions[id];
        EXPECT_EQ(setting(body, "allow_active"), "auth_admin_keep") << id;
        EXPECT_EQ(setting(body, "allow_inactive"), "no") << id;
        EXPECT_EQ(setting(body, "allow_any"), "no") << id;
        EXPECT_NE(body.find("<description>"), std::string::npos) << id;
        EXPECT_NE(body.find("<message>"), std::string::npos) << id;
    }
    EXPECT_EQ(actions.size(), std::size(daemon_actions)) << "an action the daemon never asks for";
}

// The sample rule grants the enroll action, and only it, to anchord-admin.
TEST(PolkitActionsFile, TheSampleRuleGrantsEnrollToAnchordAdmin) {
    const std::string rule = read_text(systemd_dir() / "50-anchord-admin.rules.sample");
    ASSERT_FALSE(rule.empty());
    EXPECT_NE(rule.find("polkit.addRule("), std::string::npos);
    EXPECT_NE(
        rule.find("action.id == \"" + std::string(auth::action_id(auth::Action::Enroll)) + "\""),
        std::string::npos);
    EXPECT_NE(rule.find("subject.isInGroup(\"anchord-admin\")"), std::string::npos);
    EXPECT_NE(rule.find("polkit.Result.YES"), std::string::npos);
    for (auto a : {auth::Action::Remove, auth::Action::Seal, auth::Action::Reconcile,
                   auth::Action::ReloadPolicy}) {
        EXPECT_EQ(rule.find(std::string(auth::action_id(a))), std::string::npos);
    }
}

}  // namespace
}  // namespace anchord::testing
