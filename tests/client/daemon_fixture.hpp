// The fixture of the client tests that run anchorctl against a real
// anchord in sandbox mode on a private dbus-daemon (the daemon tests'
// harness).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../daemon/anchord_harness.hpp"
#include "json_schema.hpp"
#include "process.hpp"

namespace anchorctl::testing {

class AnchorctlWithDaemon : public anchord::testing::AnchordTest {
  protected:
    void SetUp() override {
        if (!std::filesystem::exists(anchord_binary())) {
            GTEST_SKIP() << "anchord is not built yet (" << anchord_binary()
                         << " is missing): the tests against a real daemon are skipped";
        }
        AnchordTest::SetUp();
        if (HasFatalFailure()) return;
        before_start();
        ASSERT_TRUE(start_daemon());
    }

    // Runs after the harness is set up, before anchord starts: a test may
    // change its policy or state there.
    virtual void before_start() {}

    RunResult ctl(std::vector<std::string> args, const RunOptions& options = {}) {
        args.insert(args.begin(), {"--bus-address", bus_->address()});
        return run_anchorctl(args, options);
    }

    // Runs with --json; expects `status`, one document conforming to `schema`.
    nlohmann::json ctl_json(std::vector<std::string> args, int status, const std::string& schema,
                            const RunOptions& options = {}) {
        args.push_back("--json");
        const auto run = ctl(args, options);
        EXPECT_EQ(run.exit_status, status) << run.out << run.err;
        return conforming(run.out, schema);
    }

    // `out` as one JSON document conforming to `schema`.
    static nlohmann::json conforming(const std::string& out, const std::string& schema) {
        nlohmann::json document;
        try {
            document = nlohmann::json::parse(out);
        } catch (const std::exception& e) {
            ADD_FAILURE() << "not one JSON document (" << e.what() << "):\n" << out;
            return document;
        }
        const auto problems = SchemaPage::load().violations(document, schema);
        EXPECT_TRUE(problems.empty()) << "against schema '" << schema << "':\n"
                                      << ::testing::PrintToString(problems) << "\n"
                                      << document.dump(2);
        return document;
    }

    std::string file(const std::string& name, const anchord::Bytes& bytes) {
        const auto path = dir_ / name;
        anchord::testing::write_bytes(path, bytes);
        return path.string();
    }
    std::string der_file(const std::string& name, const anchord::testing::TestCert& cert) {
        return file(name, cert.der);
    }
    std::string pem_file(const std::string& name, const anchord::testing::TestCert& cert) {
        return file(name, cert.pem_bytes());
    }

    void enroll_intermediate() {
        const auto run = ctl(
            {"enroll", "-k", "secondary", der_file("intermediate.der", pki_.chain.intermediate)});
        ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
    }

    std::vector<std::string> fingerprints_in(const nlohmann::json& list,
                                             const std::string& keyring) {
        std::vector<std::string> out;
        for (const auto& k : list["keyrings"]) {
            if (k["name"] != keyring) continue;
            for (const auto& key : k["keys"]) {
                if (key["fingerprint"].is_string()) out.push_back(key["fingerprint"]);
            }
        }
        return out;
    }

    static bool has_failed_check(const nlohmann::json& result) {
        for (const auto& c : result["checks"]) {
            if (c["outcome"] == "fail") return true;
        }
        return false;
    }
};

}  // namespace anchorctl::testing
