# Port helpers shared by dev-services.sh and redis-cluster.sh (sourced).

# Whether something accepts connections on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The port of the first 127.0.0.1 URL in `export $2=...` of the env file $1
# (written by an earlier start), if any.
env_port() {
    [[ -f "$1" ]] || return 0
    sed -n "s|^export $2=[^0-9]*127\.0\.0\.1:\([0-9]*\)/.*|\1|p" "$1" | head -n1
}
