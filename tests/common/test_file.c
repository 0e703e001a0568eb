#include "file.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/cst-test-file-XXXXXX";

static void test_file_write_atomic_replaces_content_with_mode(void)
{
	char path[256], *buf = NULL;
	size_t len = 0;
	struct stat st;

	snprintf(path, sizeof(path), "%s/a.json", dir);
	CHECK_EQ_INT(cst_file_write_atomic(path, "old", 3, 0644), 0);
	CHECK_EQ_INT(cst_file_write_atomic(path, "new!", 4, 0600), 0);
	CHECK_EQ_INT(cst_file_read_all(path, 1024, &buf, &len), 0);
	CHECK_EQ_INT(len, 4);
	CHECK_STR(buf, "new!");
	CHECK_EQ_INT(stat(path, &st), 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0600);
	free(buf);
}

static void test_file_read_all_rejects_oversized(void)
{
	char path[256], *buf = NULL;

	snprintf(path, sizeof(path), "%s/big", dir);
	CHECK_EQ_INT(cst_file_write_atomic(path, "0123456789", 10, 0600), 0);
	CHECK_EQ_INT(cst_file_read_all(path, 9, &buf, NULL), -EFBIG);
	CHECK(buf == NULL);
}

static void test_file_write_atomic_fails_cleanly_in_missing_dir(void)
{
	CHECK_EQ_INT(cst_file_write_atomic("/nonexistent-dir-cst/x", "a", 1, 0600), -ENOENT);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 2;
	RUN_TEST(test_file_write_atomic_replaces_content_with_mode);
	RUN_TEST(test_file_read_all_rejects_oversized);
	RUN_TEST(test_file_write_atomic_fails_cleanly_in_missing_dir);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 2;
	return TEST_DONE();
}
