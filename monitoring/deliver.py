"""Operation: send one claimed notification by SMTP or HTTP and record the attempt (NOTIFY)."""
