from leanops.cli import main

main()
