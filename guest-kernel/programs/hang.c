/* hang: never returns, for the harness's command-timeout path. */
#include <unistd.h>

int main(void)
{
    for (;;) {
        pause();
    }
}
