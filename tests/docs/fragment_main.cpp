// The program the documentation fragments link into. It runs none of them: they
// are checked for compiling and linking only (many need a peer process, a device
// or a file the test machine does not have).
int main() { return 0; }
