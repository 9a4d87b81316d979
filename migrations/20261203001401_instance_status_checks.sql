-- EC2's status checks of a running instance (DescribeInstanceStatus), in its own words, as the
-- group reconciler last saw them: an instance that runs but is `impaired` is repaired like a
-- stopped one (issue 14). Null: not reported (not running, or not asked yet).
alter table instance
    add column instance_status text check (instance_status in
        ('ok', 'impaired', 'initializing', 'insufficient-data', 'not-applicable')),
    add column system_status text check (system_status in
        ('ok', 'impaired', 'initializing', 'insufficient-data', 'not-applicable'));
