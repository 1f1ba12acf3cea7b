"""Background workers: claim durable tasks from the database and run them."""
