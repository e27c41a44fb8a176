-- Helpers shared by callee.lua and control.lua: values from Lua literals,
-- strict comparison, and the dispatch both services use.
local skynet = require "skynet"

local M = {}

-- The values of a comma-separated list of Lua literals, as table.pack
-- returns them (with n, so nils count).
function M.values(literal)
	local f = assert(load("return " .. literal, "=literal", "t", { math = math }))
	return table.pack(f())
end

local same

-- Two tables hold the same keys with the same values (keys by raw
-- equality, values by `same`).
local function same_table(a, b, path)
	for k, v in pairs(a) do
		local ok, why = same(v, rawget(b, k), path .. "[" .. tostring(k) .. "]")
		if not ok then
			return false, why
		end
	end
	for k in pairs(b) do
		if rawget(a, k) == nil then
			return false, path .. ": unexpected key " .. tostring(k)
		end
	end
	return true
end

-- Strict equality: integers and floats apart, -0.0 apart from 0.0, NaN
-- equal to NaN, tables by content.
same = function(a, b, path)
	path = path or "value"
	local ta, tb = type(a), type(b)
	if ta ~= tb then
		return false, string.format("%s: %s ~= %s", path, ta, tb)
	end
	if ta == "number" then
		local ma, mb = math.type(a), math.type(b)
		if ma ~= mb then
			return false, string.format("%s: %s %s ~= %s %s", path, ma, tostring(a), mb, tostring(b))
		end
		if a ~= a and b ~= b then
			return true
		end
		if a ~= b or (a == 0 and ma == "float" and 1 / a ~= 1 / b) then
			return false, string.format("%s: %s ~= %s", path, M.show(a), M.show(b))
		end
		return true
	elseif ta == "table" then
		return same_table(a, b, path)
	elseif a ~= b then
		local sa, sb = tostring(a), tostring(b)
		if ta == "string" then
			sa = string.format("string of %d bytes", #a)
			sb = string.format("string of %d bytes", #b)
			for i = 1, math.min(#a, #b) do
				if a:byte(i) ~= b:byte(i) then
					sa = sa .. string.format(" (byte %d: %d ~= %d)", i, a:byte(i), b:byte(i))
					break
				end
			end
		end
		return false, string.format("%s: %s ~= %s", path, sa, sb)
	end
	return true
end

M.same = same

-- Two packed lists (table.pack) are strictly equal, counting nils.
function M.same_list(a, b)
	if a.n ~= b.n then
		return false, string.format("%d values ~= %d values", a.n, b.n)
	end
	for i = 1, a.n do
		local ok, why = same(a[i], b[i], "value " .. i)
		if not ok then
			return false, why
		end
	end
	return true
end

-- A number as Lua source would write it.
function M.show(v)
	if math.type(v) == "float" then
		if v ~= v then
			return "0/0"
		elseif v == math.huge then
			return "math.huge"
		elseif v == -math.huge then
			return "-math.huge"
		elseif v == 0 and 1 / v < 0 then
			return "-0.0"
		end
		return string.format("%.17g", v)
	end
	return tostring(v)
end

-- Serves the "lua" protocol from a table of methods: the first argument
-- names the method, every return value (nils included) is the reply, an
-- error raised by a method is the caller's "call failed", and a push
-- (session 0) gets no reply.
function M.serve(name, methods)
	skynet.dispatch("lua", function(session, _, method, ...)
		local f = methods[method]
		if not f then
			error(string.format("%s has no method %s", name, tostring(method)))
		end
		local r = table.pack(f(...))
		if session ~= 0 then
			skynet.ret(skynet.pack(table.unpack(r, 1, r.n)))
		end
	end)
end

return M
