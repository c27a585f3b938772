// logship: one binary, subcommands for each daemon and tool.
int main() { return 0; }
