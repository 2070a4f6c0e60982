/* A stand-in for a recorder vendor's GA/T 947.4 DLL, built by the tests with gcc as a shared
 * library and loaded by the bridge sidecar through ctypes exactly as the vendor's DLL would be
 * (scripts/gat947-bridge/sidecar.py). One recorder, docked: identity LHZF1, serial LH00009,
 * officer 010203 张伟, password "123456", a clock 95 s behind the host until SyncDevTime.
 * FAKEVENDOR_UNPLUGGED=1 in the environment: every call fails as with no recorder attached. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char cSerial[8];
    char userNo[7];
    char userName[33];
    char unitNo[13];
    char unitName[33];
} ZFY_INFO;

static int connected = 0;
static long clock_offset = -95;
static ZFY_INFO info = {"LH00009", "010203", "\xd5\xc5\xce\xb0", "110105000000",
                        "\xb1\xb1\xbe\xa9\xca\xd0\xb9\xab\xb0\xb2\xbe\xd6"};  /* 张伟, 北京市公安局 (GBK) */

static int unplugged(void) { const char *u = getenv("FAKEVENDOR_UNPLUGGED"); return u && *u == '1'; }
static int password_ok(const char *pwd) { return connected && pwd && memcmp(pwd, "123456", 6) == 0; }

int GetIDCode(char *out) { if (unplugged()) return 2; strcpy(out, "LHZF1"); return 1; }
int Init_Device(const char *id) {
    if (unplugged()) return 2;
    connected = strcmp(id, "LHZF1") == 0;
    return connected ? 1 : 2;
}
int UnInit_Device(void) { connected = 0; return 1; }
int GetZFYInfo(ZFY_INFO *out, const char *pwd) {
    if (!password_ok(pwd)) return 4;
    memcpy(out, &info, sizeof info);
    return 3;
}
int WriteZFYInfo(const ZFY_INFO *in, const char *pwd) {
    if (!password_ok(pwd)) return 4;
    memcpy(&info, in, sizeof info);
    return 3;
}
int SyncDevTime(const char *pwd) { if (!password_ok(pwd)) return 4; clock_offset = 0; return 5; }
int SetMSDC(const char *pwd) { if (!password_ok(pwd)) return 4; return 7; }
int ReadDeviceResolution(int *width, int *height) { *width = 1920; *height = 1080; return 1; }
int ReadDeviceBatteryDumpEnergy(int *percent) { *percent = 64; return 1; }
/* A vendor extension (the standard has no clock read): the recorder's wall clock, China
 * Standard Time, "YYYY-MM-DD HH:MM:SS". */
int ReadDevTime(char *out) {
    if (unplugged()) return 2;
    time_t t = time(NULL) + 8 * 3600 + clock_offset;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm);
    return 1;
}
