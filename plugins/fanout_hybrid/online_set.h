/* online_set.h — fanout_hybrid: per conversation, its members online on this node. */
#ifndef FANOUT_ONLINE_SET_H
#define FANOUT_ONLINE_SET_H
#endif
