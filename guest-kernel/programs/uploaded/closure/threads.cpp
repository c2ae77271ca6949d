// A C++ program as g++ builds it: threads, exceptions thrown across them
// and caught, the standard library's strings. Needs libstdc++, libgcc_s and
// libm besides libc (pytests/test_closure.py).
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char **argv)
{
    int n = argc > 1 ? std::stoi(argv[1]) : 4;
    std::vector<std::string> results(n);
    std::vector<std::thread> threads;
    for (int t = 0; t < n; ++t) {
        threads.emplace_back([&results, t] {
            try {
                if (t % 2) {
                    throw std::runtime_error("thread " + std::to_string(t) + " threw");
                }
                results[t] = "thread " + std::to_string(t) + " returned";
            } catch (const std::exception &e) {
                results[t] = std::string("caught: ") + e.what();
            }
        });
    }
    for (auto &thread : threads) {
        thread.join();
    }
    for (const auto &r : results) {
        std::printf("%s\n", r.c_str());
    }
    try {
        std::stoi("not a number");
    } catch (const std::invalid_argument &) {
        std::printf("main caught invalid_argument\n");
    }
    return 0;
}
