package main

// cmdFeed is built in its own issue.
var cmdFeed = notYet("feed")
