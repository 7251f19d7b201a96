-- wrk script: the stock firmware's download pattern, one random 4096-byte aligned
-- Range request after another on keep-alive connections (PROTOCOL.md §4).
-- BENCH_SIZE is the size of the file at the URL's path.
local size = tonumber(os.getenv("BENCH_SIZE"))
local chunk = 4096
local nchunks = math.floor((size - 1) / chunk) + 1
local path

function setup(thread)
	thread:set("seed", math.random(1, 1000000))
end

function init(args)
	math.randomseed(seed or os.time())
	path = wrk.path
end

function request()
	local a = math.random(0, nchunks - 1) * chunk
	return wrk.format("GET", path, { ["Range"] = "bytes=" .. a .. "-" .. (a + chunk - 1) })
end
